"""MIN-VAE: the mixture of inference networks VAE (Sadeghi & Alameda-Pineda, IEEE TSP 2021).

Generative model, per frame t (alpha_t = 1 names the visual component, 0 the audio one):

    alpha_t ~ Bernoulli(pi)                               pi = p(visual), learned
    z_t | alpha_t = k ~ N(mu_k, sigma2_k I)               component priors, learned (mu_k in R^L,
                                                          one variance sigma2_k per component)
    s_ft | z_t ~ N_c(0, sigma2_f(z_t))                    the shared audio decoder

Guide (the mixture of inference networks):

    q(alpha_t = 1) = r_t                                  the visual responsibility (below)
    q(z_t | alpha_t = 0) = N(mu_a(s_t), diag sigma2_a(s_t))   audio encoder
    q(z_t | alpha_t = 1) = N(mu_v(v_t), diag sigma2_v(v_t))   visual encoder

so the posterior of z_t is the two-component Gaussian mixture of the paper. The ELBO sums the
discrete variable out exactly:

    ELBO_t = sum_k q(alpha_t = k) [ E_q(z|k)[log p(s_t | z) + log p(z | k) - log q(z | k)]
                                    + log p(alpha_t = k) - log q(alpha_t = k) ]

which is what :class:`pyro.infer.TraceEnum_ELBO` computes when the guide's ``alpha`` site is
enumerated (``config_enumerate``, as Pyro's ``ss_vae_M2`` example does for its label); a test
checks it against this sum written by hand.

Responsibilities ``r_t`` -- "the visual branch's mixture weight" -- come in two flavours
(``MinVAEConfig.responsibility``):

* ``"closed-form"`` (default): the paper's update, the maximiser of the ELBO in q(alpha_t) for
  fixed networks, ``r_t = pi e^{L_v(t)} / (pi e^{L_v(t)} + (1 - pi) e^{L_a(t)})`` with
  ``L_k(t) = E_q(z|k)[log p(s_t | z)] - KL(q(z | k) || p(z | k))`` (reconstruction by
  ``responsibility_samples`` reparameterised draws, KL in closed form). Deviation: the paper
  keeps one r_t per training frame and refreshes the table once per epoch; here r_t is
  recomputed for each mini-batch from the current networks (the same fixed point, no table),
  and held constant (no gradient) inside the step, as in the paper. With q(alpha) at its
  optimum the enumerated ELBO is ``sum_t log sum_k p(alpha_t = k) e^{L_k(t)}``, and its
  gradient in the networks is the r-weighted sum of the components' gradients.
* ``"amortized"``: ``r_t = sigmoid(g([h_a(s_t), h_v(v_t)]))``, a small gate network on the two
  encoders' hidden features, trained by the same enumerated ELBO (Pyro's ``ss_vae_M2``
  pattern). It needs no clean target and no decoder call, but learns slowly: the ELBO's
  gradient in the gate's logit, ``r (1 - r) (logit pi + A_v - A_a - logit r)``, vanishes as r
  nears 0 or 1, and on the synthetic tests the closed form reaches the A-VAE's ELBO in a
  few epochs where the gate needs many more.

The mixture prior weight pi: the paper sets it to the mean responsibility after each epoch
(its maximiser); here ``logit(pi)`` is a parameter trained by the ELBO's gradient, which
vanishes exactly at ``pi = mean_t r_t``.

Audio corruption during training (as the paper trains): the audio encoder reads a corrupted
power on a share of the frames (``default_corrupt_share = 0.5``), the likelihood scores the
clean power, so the visual encoder wins those frames and learns; see
:mod:`avgen.models.vae.corruption` and :func:`avgen.models.vae.train.fit`. Initialisation from
trained A-VAE and V-VAE (as the paper does): :meth:`MixtureInferenceVAE.init_from`.
(About 320 lines of code: one class, its Pyro model and enumerated guide, its two encoders and
the test-time posterior methods; split across modules, the mixture's pieces would be harder to
check against each other.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import ELBO, TraceEnum_ELBO, config_enumerate
from torch import nn

from avgen.errors import ConfigError
from avgen.models.vae.corruption import add_power_noise
from avgen.models.vae.likelihood import exponential_log_likelihood_from_log_variance
from avgen.models.vae.models import Gaussian, SpeechVAE, VAEConfig
from avgen.models.vae.networks import AudioEncoder, LogPowerInput, VisualEncoder
from avgen.seeding import derive_seed, torch_generator
from inference.prior_terms import MixturePriorCorrection

RESPONSIBILITY_METHODS = ("amortized", "closed-form")
AUDIO, VISUAL = 0, 1


@dataclass(frozen=True)
class MinVAEConfig(VAEConfig):
    """:class:`VAEConfig` plus the MIN-VAE's responsibility options."""

    responsibility: str = "closed-form"  # the paper's update, or "amortized" (a gate)
    gate_hidden_dim: int = 32  # amortized gate: 2*hidden -> gate_hidden -> 1
    responsibility_samples: int = 1  # closed form: draws of z per component

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.responsibility not in RESPONSIBILITY_METHODS:
            raise ConfigError(
                f"responsibility must be one of {RESPONSIBILITY_METHODS}, "
                f"got {self.responsibility!r}"
            )
        if self.gate_hidden_dim < 1 or self.responsibility_samples < 1:
            raise ConfigError("gate_hidden_dim and responsibility_samples must be >= 1")


class MixtureInferenceVAE(SpeechVAE):
    """MIN-VAE: audio and visual encoders mixed by a per-frame latent alpha_t, shared decoder.

    ``encode(power, lips)`` returns the visual component (the paper's initialisation of the
    latents at test time); :meth:`encode_audio` and :meth:`encode_visual` give each one;
    :meth:`responsibilities` the visual weight per frame; :meth:`latent_log_prior` the
    mixture prior ``log sum_k pi_k N(z; mu_k, sigma2_k I)``.
    """

    name = "min-vae"
    config_class = MinVAEConfig
    uses_lips = True
    conditions_on_lips = False
    default_corrupt_share = 0.5
    #: ``"switch"``: per frame the audio or the visual encoder's mean, chosen by its posterior
    #: responsibility under the fitted noise model (:mod:`avgen.pipelines.vae_nmf.switch`)
    inits = ("prior", "audio", "visual", "mixture", "switch")
    #: Sadeghi & Alameda-Pineda (2021) start the test-time chains from the visual encoder
    default_init = "visual"

    def __init__(self, config: MinVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.audio_input = LogPowerInput(c.n_freq, c.log_eps)
        self.audio_encoder = AudioEncoder(c.n_freq, c.hidden_dim, c.latent_dim)
        self.visual_encoder = VisualEncoder(
            c.lip_dim,
            c.visual_hidden_dim,
            c.hidden_dim,
            c.latent_dim,
            c.visual_net,
            c.standardized_lips,
        )
        # component priors p(z | alpha = k) = N(prior_loc[k], exp(prior_log_var[k]) I)
        self.prior_loc = nn.Parameter(torch.zeros(2, c.latent_dim))
        self.prior_log_var = nn.Parameter(torch.zeros(2))
        # logit of pi = p(alpha_t = visual)
        self.visual_logit = nn.Parameter(torch.zeros(()))
        self.gate = (
            nn.Sequential(
                nn.Linear(2 * c.hidden_dim, c.gate_hidden_dim),
                nn.Tanh(),
                nn.Linear(c.gate_hidden_dim, 1),
            )
            if c.responsibility == "amortized"
            else None
        )

    # ------------------------------------------------------------------ plain torch API
    @property
    def visual_prior_weight(self) -> torch.Tensor:
        """pi = p(alpha_t = visual)."""
        return torch.sigmoid(self.visual_logit)

    def component_prior(self) -> Gaussian:
        """``(loc, scale)`` of p(z | alpha = k), each ``(2, L)``: row 0 audio, row 1 visual."""
        scale = torch.exp(0.5 * self.prior_log_var).unsqueeze(-1).expand_as(self.prior_loc)
        return self.prior_loc, scale

    def prior(self, n_frames: int, *, visual_context: torch.Tensor | None = None) -> Gaussian:
        raise ConfigError(
            "the MIN-VAE prior is a mixture: use component_prior() or latent_log_prior()"
        )

    def latent_log_prior(
        self,
        z: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        visual_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log sum_k pi_k N(z_t; mu_k, sigma2_k I)`` per frame, ``(..., T, L) -> (..., T)``."""
        loc, scale = self.component_prior()
        per_component = dist.Normal(loc, scale).log_prob(z.unsqueeze(-2)).sum(-1)  # (..., T, 2)
        return torch.logsumexp(per_component + self.component_log_weights(), dim=-1)

    def encode_audio(self, power: torch.Tensor) -> Gaussian:
        return self.audio_encoder(self.audio_input(power))

    def encode_visual(self, lips: torch.Tensor) -> Gaussian:
        return self.visual_encoder(lips)

    def encode(
        self, power: torch.Tensor, lips: torch.Tensor | None = None, component: str = "visual"
    ) -> Gaussian:
        """One component of the guide: ``"visual"`` (default; the paper starts the test-time
        latents there, from the clean lips) or ``"audio"``."""
        if component == "visual":
            return self.encode_visual(self._need_lips(lips, power.shape[-2]))
        if component == "audio":
            return self.encode_audio(power)
        raise ConfigError(f"component must be 'audio' or 'visual', got {component!r}")

    def component_posteriors(
        self, encoder_power: torch.Tensor, lips: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loc, scale, gate_features)``: loc/scale ``(2, T, L)`` stacked audio, visual;
        gate features ``(T, 2H)`` (the two encoders' hidden layers)."""
        h_a = self.audio_encoder.hidden(self.audio_input(encoder_power))
        h_v = self.visual_encoder.hidden(self.visual_encoder.features(lips))
        loc_a, scale_a = self.audio_encoder.head(h_a)
        loc_v, scale_v = self.visual_encoder.head(h_v)
        return (
            torch.stack([loc_a, loc_v]),
            torch.stack([scale_a, scale_v]),
            torch.cat([h_a, h_v], dim=-1),
        )

    def component_elbos(
        self,
        power: torch.Tensor,
        lips: torch.Tensor,
        *,
        encoder_power: torch.Tensor | None = None,
        num_samples: int | None = None,
        posteriors: Gaussian | None = None,
    ) -> torch.Tensor:
        """``L_k(t) = E_q(z|k)[log p(s_t | z)] - KL(q(z | k) || p(z | k))``, shape ``(2, T)``:
        the per-component ELBO of the closed-form responsibility (reconstruction by
        ``num_samples`` reparameterised draws from the global torch generator).
        ``posteriors``: the ``(loc, scale)`` of :meth:`component_posteriors` if already known."""
        n = num_samples or self.config.responsibility_samples
        if posteriors is None:
            x = power if encoder_power is None else encoder_power
            posteriors = self.component_posteriors(x, lips)[:2]
        q = dist.Normal(*posteriors)
        z = q.rsample((n,))  # (n, 2, T, L)
        recon = exponential_log_likelihood_from_log_variance(power, self.decoder(z)).mean(
            0
        )  # (2, T)
        p_loc, p_scale = self.component_prior()
        p = dist.Normal(p_loc.unsqueeze(-2), p_scale.unsqueeze(-2))  # (2, 1, L)
        kl = torch.distributions.kl_divergence(q, p).sum(-1)  # (2, T)
        return recon - kl

    def visual_logits(
        self,
        power: torch.Tensor,
        lips: torch.Tensor,
        *,
        encoder_power: torch.Tensor | None = None,
        method: str | None = None,
        posteriors: tuple[torch.Tensor, ...] | None = None,
    ) -> torch.Tensor:
        """``logit q(alpha_t = visual)`` per frame, ``(T,)``, by ``method`` (default: the
        model's configured one). The closed form carries no gradient. ``posteriors``: the
        output of :meth:`component_posteriors` if already computed."""
        method = method or self.config.responsibility
        x = power if encoder_power is None else encoder_power
        if posteriors is None:
            posteriors = self.component_posteriors(x, lips)
        loc, scale, gate_features = posteriors
        if method == "amortized":
            if self.gate is None:
                raise ConfigError(
                    "this MIN-VAE was built with responsibility='closed-form': "
                    "it has no gate network"
                )
            return self.gate(gate_features).squeeze(-1)
        if method == "closed-form":
            with torch.no_grad():
                elbos = self.component_elbos(power, lips, posteriors=(loc.detach(), scale.detach()))
                return self.visual_logit + elbos[VISUAL] - elbos[AUDIO]
        raise ConfigError(f"method must be one of {RESPONSIBILITY_METHODS}, got {method!r}")

    @torch.no_grad()
    def responsibilities(
        self,
        power: torch.Tensor,
        lips: torch.Tensor,
        *,
        encoder_power: torch.Tensor | None = None,
        method: str | None = None,
    ) -> torch.Tensor:
        """The visual branch's mixture weight per frame, ``r_t = q(alpha_t = visual | s_t, v_t)``,
        shape ``(T,)``: the posterior probability that frame t's latent comes from the visual
        encoder. ``power`` is what the likelihood scores (used by the closed form) and, unless
        ``encoder_power`` is given, what the audio encoder reads (e.g. noisy speech at test
        time). Rises towards 1 as the audio input is corrupted."""
        self.check_inputs(power, lips)
        return torch.sigmoid(
            self.visual_logits(power, lips, encoder_power=encoder_power, method=method)
        )

    # ------------------------------------------------------------------ the noisy posterior
    @torch.no_grad()
    def visual_weight(self, power: torch.Tensor, lips: torch.Tensor | None) -> torch.Tensor:
        """:meth:`responsibilities` on a noisy power, reproducibly: the closed form draws from
        the global generator, so it runs here on a forked one seeded with 0."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return self.responsibilities(power, lips)

    def start_distribution(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None,
        init: str,
        *,
        visual_weight: torch.Tensor | None = None,
    ) -> Gaussian:
        """As the base class, plus the mixtures: ``"prior"`` moment-matches ``sum_k pi_k
        N(mu_k, s2_k I)`` and ``"mixture"`` the two encoders weighted per frame by the visual
        weight ``r_t`` on the noisy power (``visual_weight``, computed here when not given):
        mean ``r mu_v + (1 - r) mu_a``, variance ``r (s_v^2 + mu_v^2) + (1 - r)(s_a^2 + mu_a^2)
        - mean^2`` (floored at 1e-8). ``"switch"`` starts at the audio encoder (the chains' start
        until the pipeline re-draws each frame's start between :meth:`switch_candidates`)."""
        if init not in self.inits:
            return super().start_distribution(power, lips, init)
        n_frames = power.shape[-2]
        if init in ("audio", "switch"):
            return self.encode_audio(power)
        if init == "visual":
            return self.encode_visual(self._need_lips(lips, n_frames))
        if init == "prior":
            loc, scale = self.component_prior()
            pi = self.visual_prior_weight
            mean, std = _moment_match(pi, (loc[VISUAL], scale[VISUAL]), (loc[AUDIO], scale[AUDIO]))
            return mean.expand(n_frames, -1), std.expand(n_frames, -1)
        lips = self._need_lips(lips, n_frames)
        r = self.visual_weight(power, lips) if visual_weight is None else visual_weight
        return _moment_match(r.unsqueeze(-1), self.encode_visual(lips), self.encode_audio(power))

    @torch.no_grad()
    def switch_candidates(self, power: torch.Tensor, lips: torch.Tensor | None) -> torch.Tensor:
        """``(2, T, L)``: the audio encoder's means on ``power`` (row 0) and the visual encoder's
        on the lips (row 1), the two per-frame starts of the ``"switch"`` init."""
        lips = self._need_lips(lips, power.shape[-2])
        return torch.stack([self.encode_audio(power)[0], self.encode_visual(lips)[0]])

    def component_log_weights(self) -> torch.Tensor:
        """``(log(1 - pi), log pi)``: the log prior weights of the audio and visual components."""
        return torch.stack(
            [
                nn.functional.logsigmoid(-self.visual_logit),
                nn.functional.logsigmoid(self.visual_logit),
            ]
        )

    @torch.no_grad()
    def prior_correction(self, visual_context: torch.Tensor | None) -> MixturePriorCorrection:
        loc, scale = self.component_prior()
        return MixturePriorCorrection(self.component_log_weights(), loc, scale[:, 0].square())

    def latent_distribution(
        self, n_frames: int, visual_context: torch.Tensor | None = None
    ) -> dist.Distribution:
        """The mixture prior ``sum_k pi_k N(mu_k, sigma2_k I)`` with ``alpha_t`` summed out
        (``MixtureSameFamily``), batch ``(T,)``: a smooth density of ``z`` alone, which
        gradient-based samplers (HMC, NUTS) need; see ``docs/inference.md``."""
        loc, scale = self.component_prior()
        mixing = dist.Categorical(logits=self.component_log_weights())
        return dist.MixtureSameFamily(mixing, dist.Normal(loc, scale).to_event(1)).expand(
            (n_frames,)
        )

    # ------------------------------------------------------------------ Pyro model and guide
    def model(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        encoder_power: torch.Tensor | None = None,
        kl_weight: float = 1.0,
    ) -> None:
        """p(alpha, z, s): alpha_t ~ Bernoulli(pi), z_t | alpha_t ~ N(mu_k, sigma2_k I),
        p_t | z_t ~ Exp(1 / sigma2(z_t)); the frames plate at dim -1."""
        pyro.module(self.name, self)
        n_frames = self.check_inputs(power, lips)
        loc, scale = self.component_prior()
        with pyro.plate("frames", n_frames, dim=-1):
            alpha = pyro.sample("alpha", dist.Bernoulli(logits=self.visual_logit.expand(n_frames)))
            is_visual = alpha.bool().unsqueeze(-1)
            z_loc = torch.where(is_visual, loc[VISUAL], loc[AUDIO])
            z_scale = torch.where(is_visual, scale[VISUAL], scale[AUDIO])
            with poutine.scale(scale=kl_weight):
                z = pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))
            log_var = self.decoder(z)
            pyro.sample("power", dist.Exponential(torch.exp(-log_var)).to_event(1), obs=power)

    def guide(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        encoder_power: torch.Tensor | None = None,
        kl_weight: float = 1.0,
    ) -> None:
        """q(alpha, z | s, v) = q(alpha_t) q(z_t | alpha_t, s_t, v_t). Enumerate ``alpha`` with
        :meth:`training_guide` (``config_enumerate``) to sum it out exactly."""
        pyro.module(self.name, self)
        n_frames = self.check_inputs(power, lips)
        x = power if encoder_power is None else encoder_power
        posteriors = self.component_posteriors(x, lips)
        loc, scale, _ = posteriors
        logits = self.visual_logits(power, lips, encoder_power=x, posteriors=posteriors)
        with pyro.plate("frames", n_frames, dim=-1):
            alpha = pyro.sample("alpha", dist.Bernoulli(logits=logits))
            is_visual = alpha.bool().unsqueeze(-1)
            z_loc = torch.where(is_visual, loc[VISUAL], loc[AUDIO])
            z_scale = torch.where(is_visual, scale[VISUAL], scale[AUDIO])
            with poutine.scale(scale=kl_weight):
                pyro.sample("z", dist.Normal(z_loc, z_scale).to_event(1))

    def training_guide(self):
        """The guide with ``alpha`` enumerated in parallel (for :class:`TraceEnum_ELBO`)."""
        return config_enumerate(self.guide, default="parallel")

    def make_elbo(self, num_particles: int = 1, vectorize_particles: bool = False) -> ELBO:
        return TraceEnum_ELBO(
            num_particles=num_particles,
            vectorize_particles=vectorize_particles,
            max_plate_nesting=1,
        )

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def init_from(self, a_vae: SpeechVAE | None = None, v_vae: SpeechVAE | None = None) -> None:
        """Start from trained A-VAE and/or V-VAE, as the paper does: the audio encoder, its
        input normalisation and the decoder from the A-VAE, the visual encoder from the V-VAE;
        both component priors start at their N(0, I), pi at 1/2."""
        if a_vae is not None:
            self._check_compatible(a_vae, "a-vae", ("n_freq", "latent_dim", "hidden_dim"))
            self.audio_input.load_state_dict(a_vae.audio_input.state_dict())
            self.audio_encoder.load_state_dict(a_vae.audio_encoder.state_dict())
            self.decoder.load_state_dict(a_vae.decoder.state_dict())
            self.data_initialized.copy_(a_vae.data_initialized)
        if v_vae is not None:
            self._check_compatible(
                v_vae,
                "v-vae",
                (
                    "latent_dim",
                    "hidden_dim",
                    "lip_dim",
                    "visual_hidden_dim",
                    "visual_net",
                    "lip_input",
                ),
            )
            self.visual_encoder.load_state_dict(v_vae.visual_encoder.state_dict())
        self.prior_loc.zero_()
        self.prior_log_var.zero_()
        self.visual_logit.zero_()

    def _check_compatible(self, other: SpeechVAE, expected: str, fields: tuple[str, ...]) -> None:
        if other.name != expected:
            raise ConfigError(f"expected a trained {expected}, got {other.name}")
        for f in fields:
            mine, theirs = getattr(self.config, f), getattr(other.config, f)
            if mine != theirs:
                raise ConfigError(
                    f"cannot initialise min-vae from {expected}: {f} differs "
                    f"({mine} here, {theirs} there)"
                )


@torch.no_grad()
def visual_weight_by_snr(
    model: MixtureInferenceVAE,
    power: torch.Tensor,
    lips: torch.Tensor,
    snrs_db: Sequence[float | None],
    *,
    reference_power: float | None = None,
    seed: int = 0,
    method: str | None = None,
) -> torch.Tensor:
    """Mean visual responsibility when the audio encoder reads ``power`` corrupted at each SNR.

    For each ``snr`` (``None``: clean) the encoder input is ``power`` plus white noise at
    ``snr`` dB relative to ``reference_power`` (default: the mean of ``power``;
    :func:`~avgen.models.vae.corruption.add_power_noise`), the likelihood scoring the clean
    ``power``. Returns ``(len(snrs_db), 2)``: the mean of r_t over the frames and its standard
    error. The curve should rise as the SNR falls.
    """
    reference = float(power.mean()) if reference_power is None else reference_power
    rows = []
    for k, snr in enumerate(snrs_db):
        encoder_power = (
            power
            if snr is None
            else add_power_noise(
                power, snr, reference, torch_generator(derive_seed(seed, "snr", k), power.device)
            )
        )
        torch.manual_seed(derive_seed(seed, "draws", k))
        r = model.responsibilities(power, lips, encoder_power=encoder_power, method=method)
        rows.append(torch.stack([r.mean(), r.std() / r.numel() ** 0.5]))
    return torch.stack(rows)


def _moment_match(weight: torch.Tensor | float, visual: Gaussian, audio: Gaussian) -> Gaussian:
    """``(mean, std)`` of ``w N(visual) + (1 - w) N(audio)`` (diagonal), variance floored at
    1e-8."""
    (loc_v, scale_v), (loc_a, scale_a) = visual, audio
    mean = weight * loc_v + (1 - weight) * loc_a
    second = weight * (scale_v.square() + loc_v.square()) + (1 - weight) * (
        scale_a.square() + loc_a.square()
    )
    return mean, (second - mean.square()).clamp_min(1e-8).sqrt()
