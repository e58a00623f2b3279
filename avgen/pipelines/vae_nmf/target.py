"""What a VAE speech prior brings to the VAE-NMF posterior: decoder, latent prior, start, encoder.

At test time the observation model is (Leglaive et al. 2018; Sadeghi et al. 2020, 2021)

    z_t ~ p(z_t [| v_t]),   s_ft | z_t ~ N_c(0, sigma2_f(z_t [, v_t])),
    x_ft = sqrt(g_t) s_ft + b_ft,   b_ft ~ N_c(0, (W H)_ft),

so the per-frame target of the E-step is
``log p(x_t, z_t) = log N_c(x_t; 0, g_t sigma2(z_t) + (WH)_t) + log p(z_t)``.
:mod:`inference.gaussian_scale` fuses the likelihood with a standard-normal prior (A-VAE, V-VAE,
AV-VAE). The AV-CVAE's prior ``N(mu(v_t), diag sigma2(v_t))`` and the MIN-VAE's
mixture ``sum_k pi_k N(mu_k, sigma2_k I)`` differ; :class:`ModelPriorDensity` swaps the prior
term, with the constants of the model's prior computed once per utterance (the hot loop calls it
thousands of times: through the model's generic ``latent_log_prior`` the MIN-VAE's mixture cost
a third of an MH step). The test oracle is the model's own ``log_likelihood +
latent_log_prior`` (which its Pyro model trace equals, a test of the models checks it): values
and gradients agree up to a constant in float64.

:func:`prior_target` collects, for one utterance, the decoder with the lips' features bound
(``visual_context`` computed once, not in the loop) and the prior correction;
:func:`initial_latents` the starting latents of the chains (:data:`INITS`).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from avgen.errors import ConfigError, VideoError
from avgen.models.vae.min_vae import MixtureInferenceVAE
from avgen.models.vae.models import SpeechVAE
from inference.gaussian_scale import GaussianScaleLogDensity
from inference.nmf import NMFParams, nmf_variance
from inference.nmf_em import GaussianScaleNMF

#: how the chains start: the prior's mean, the audio (or audio-visual) encoder on the noisy
#: input, the visual encoder on the lips, or the MIN-VAE's mixture of both encoders.
INITS = ("prior", "audio", "visual", "mixture")

#: the initialisation of each model when none is asked for (MIN-VAE: the visual encoder, as
#: Sadeghi & Alameda-Pineda 2021; the others: their own encoder, as the VAE-NMF papers)
DEFAULT_INIT = {
    "a-vae": "audio",
    "v-vae": "visual",
    "av-vae": "audio",
    "av-cvae": "audio",
    "min-vae": "visual",
}

LogPrior = Callable[[torch.Tensor], torch.Tensor]


def default_init(model: SpeechVAE) -> str:
    return DEFAULT_INIT.get(model.name, "prior")


class ModelPriorDensity:
    """``base(z) + correction(z)``: the fused VAE-NMF density with another prior.

    ``base`` is a :class:`~inference.gaussian_scale.GaussianScaleLogDensity` (its prior term is
    ``-||z||^2/2``); ``correction(z) = ||z||^2 / 2 + log p(z_t)`` (:class:`MixturePriorCorrection`,
    :class:`GaussianPriorCorrection`), so that the sum is ``-sum_f [log V_ft + P_ft / V_ft] +
    log p(z_t)`` per frame, i.e. ``log p(x_t, z_t)`` up to a constant. Gradients flow when ``z``
    requires them (MALA, Langevin, VEM). One decoder call per evaluation, as the base.
    """

    def __init__(self, base: GaussianScaleLogDensity, correction: LogPrior) -> None:
        self.base = base
        self.correction = correction

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.base(z) + self.correction(z)


class MixturePriorCorrection:
    """``||z||^2/2 + log sum_k pi_k N(z; mu_k, s2_k I)`` with the constants precomputed (the
    MIN-VAE's prior; one ``(T, L) x (L, K)`` product and a log-sum-exp per call).

    ``log N(z; mu_k, s2_k I) = (z.mu_k - ||z||^2/2) / s2_k - ||mu_k||^2 / (2 s2_k)
    - (L/2) log(2 pi s2_k)``.
    """

    def __init__(
        self, log_weights: torch.Tensor, loc: torch.Tensor, variance: torch.Tensor
    ) -> None:
        self.loc_t = loc.T.contiguous()  # (L, K)
        self.precision = variance.reciprocal()  # (K,)
        latent_dim = loc.shape[-1]
        self.constant = (
            log_weights
            - 0.5 * loc.square().sum(-1) * self.precision
            - 0.5 * latent_dim * torch.log(2 * math.pi * variance)
        )

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        half_sq = z.square().sum(-1, keepdim=True).mul_(0.5)  # (..., T, 1)
        terms = torch.addcmul(self.constant, (z @ self.loc_t).sub_(half_sq), self.precision)
        # log-sum-exp over the K components as K - 1 logaddexp kernels (one for the MIN-VAE's
        # two), cheaper than torch.logsumexp's five on these small tensors
        mixture = functools.reduce(torch.logaddexp, terms.unbind(-1))
        return mixture + half_sq.squeeze(-1)


class GaussianPriorCorrection:
    """``||z||^2/2 + log N(z_t; mu_t, diag s_t^2)`` with ``1/s`` and the constants precomputed
    (the AV-CVAE's prior given the lips)."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor) -> None:
        self.loc = loc
        self.inv_scale = scale.reciprocal()
        self.constant = -(scale.log().sum(-1) + 0.5 * loc.shape[-1] * math.log(2 * math.pi))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        standardised = (z - self.loc) * self.inv_scale
        return self.constant + 0.5 * (z.square() - standardised.square()).sum(-1)


class ModelPriorNMF(GaussianScaleNMF):
    """:class:`~inference.nmf_em.GaussianScaleNMF` whose E-step target has another prior:
    ``prior_correction(z) = ||z||^2/2 + log p(z)`` is added to the fused density (``None``: the
    standard normal of the base class)."""

    def __init__(
        self,
        power: torch.Tensor,
        decoder: Callable[[torch.Tensor], torch.Tensor],
        e_step,
        *,
        prior_correction: LogPrior | None = None,
        **kwargs,
    ) -> None:
        super().__init__(power, decoder, e_step, **kwargs)
        self.prior_correction = prior_correction

    def log_density(self, params: NMFParams):
        base = GaussianScaleLogDensity(
            self.power, self.decoder, nmf_variance(params.W, params.H), params.gain
        )
        return (
            base
            if self.prior_correction is None
            else ModelPriorDensity(base, self.prior_correction)
        )


@dataclass(frozen=True)
class PriorTarget:
    """One utterance's view of a prior.

    Attributes:
        decoder: ``z (..., T, L) -> log sigma2 (..., T, F)`` with the lips' features bound.
        prior_correction: ``z -> ||z||^2/2 + log p(z_t [| v_t])`` ``(..., T)``, or ``None``
            for ``N(0, I)`` (what :class:`ModelPriorDensity` adds to the fused density).
        latent_dim: ``L``.
    """

    decoder: Callable[[torch.Tensor], torch.Tensor]
    prior_correction: LogPrior | None
    latent_dim: int


def check_lips_for(
    model: SpeechVAE, lips: torch.Tensor | None, n_frames: int
) -> torch.Tensor | None:
    """``lips`` ``(T, D)`` for a model that reads them; a clear error when they are missing."""
    if not model.uses_lips:
        return None
    if lips is None:
        raise VideoError(
            f"{model.name} is an audio-visual prior and needs the speaker's lips: "
            "pass --video LIPS.npy|.mp4 (or use --model a-vae)"
        )
    return model._need_lips(lips, n_frames)


def prior_target(model: SpeechVAE, lips: torch.Tensor | None, n_frames: int) -> PriorTarget:
    """The decoder and latent prior of ``model`` for an utterance of ``n_frames`` frames."""
    lips = check_lips_for(model, lips, n_frames)
    context = model.visual_context(lips) if model.conditions_on_lips else None
    decoder = model.decoder if context is None else _BoundDecoder(model.decoder, context)
    return PriorTarget(decoder, prior_correction(model, context), model.config.latent_dim)


class _BoundDecoder:
    """``z -> decoder(z, context)`` (a class, not a lambda, so that it pickles and prints)."""

    def __init__(self, decoder: nn.Module, context: torch.Tensor) -> None:
        self.decoder, self.context = decoder, context

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z, self.context)


@torch.no_grad()
def prior_correction(model: SpeechVAE, context: torch.Tensor | None) -> LogPrior | None:
    """``||z||^2/2 + log p(z_t [| v_t])`` of ``model`` with its constants precomputed, or
    ``None`` when the prior is ``N(0, I)`` (A-VAE, V-VAE, AV-VAE). A test checks the corrected
    density against the model's own ``latent_log_prior``."""
    if isinstance(model, MixtureInferenceVAE):
        loc, scale = model.component_prior()
        logit = model.visual_logit
        log_weights = torch.stack(
            [nn.functional.logsigmoid(-logit), nn.functional.logsigmoid(logit)]
        )
        return MixturePriorCorrection(log_weights, loc, scale[:, 0].square())
    if model.name == "av-cvae":
        loc, scale = model.prior(context.shape[0], visual_context=context)
        return GaussianPriorCorrection(loc, scale)
    return None


@torch.no_grad()
def initial_latents(
    model: SpeechVAE, power: torch.Tensor, lips: torch.Tensor | None, init: str
) -> torch.Tensor:
    """Where the chains start, ``(T, L)`` (the mean of the chosen Gaussian).

    * ``"prior"``: the prior mean (MIN-VAE: ``sum_k pi_k mu_k``; AV-CVAE: ``mu(v_t)``);
    * ``"audio"``: the audio encoder on the noisy power (AV-VAE / AV-CVAE: their audio-visual
      encoder, on the noisy power and the lips);
    * ``"visual"``: the visual encoder on the lips (V-VAE, MIN-VAE);
    * ``"mixture"`` (MIN-VAE): ``r_t mu_v(v_t) + (1 - r_t) mu_a(x_t)`` with the closed-form
      visual responsibility ``r_t`` computed on the noisy power.
    """
    n_frames = power.shape[0]
    lips = check_lips_for(model, lips, n_frames)
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    if init == "prior":
        if isinstance(model, MixtureInferenceVAE):
            loc, _ = model.component_prior()
            pi = model.visual_prior_weight
            return ((1 - pi) * loc[0] + pi * loc[1]).expand(n_frames, -1).clone()
        context = model.visual_context(lips) if model.conditions_on_lips else None
        return model.prior(n_frames, visual_context=context)[0].clone()
    if init == "audio":
        if model.name == "v-vae":
            raise ConfigError("v-vae has no audio encoder: use --init visual or prior")
        if isinstance(model, MixtureInferenceVAE):
            return model.encode_audio(power)[0]
        return model.encode(power, lips)[0]
    if init == "visual":
        if model.name not in ("v-vae", "min-vae"):
            raise ConfigError(f"{model.name} has no visual-only encoder: use --init audio or prior")
        return model.encode_visual(lips)[0]
    if not isinstance(model, MixtureInferenceVAE):
        raise ConfigError("--init mixture needs the MIN-VAE (two encoders to mix)")
    r = visual_responsibility(model, power, lips).unsqueeze(-1)
    return r * model.encode_visual(lips)[0] + (1 - r) * model.encode_audio(power)[0]


@torch.no_grad()
def visual_responsibility(
    model: MixtureInferenceVAE, power: torch.Tensor, lips: torch.Tensor, seed: int = 0
) -> torch.Tensor:
    """The MIN-VAE's visual weight ``r_t`` on the noisy power, ``(T,)``, reproducibly (the
    closed form draws from the global generator: it runs here on a forked, seeded one)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model.responsibilities(power, lips)


class EncoderForVEM(nn.Module):
    """The encoder of ``init`` as ``power -> (mean, log variance)`` for
    :class:`inference.vem.VariationalEStep`, on a private copy of the model.

    Variational EM fine-tunes the encoder's weights; working on a deep copy leaves the user's
    model untouched (and the next file starts from the trained weights again). Only the weights
    that the chosen encoder uses are trainable (found by one differentiated forward pass).
    """

    def __init__(
        self, model: SpeechVAE, power: torch.Tensor, lips: torch.Tensor | None, init: str
    ) -> None:
        super().__init__()
        if init == "prior":
            raise ConfigError(
                "variational EM fine-tunes an encoder: use --init audio, visual "
                "or mixture, not prior"
            )
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(True)
        self.lips = lips
        self.init = init
        self.responsibility: torch.Tensor | None = None
        if init == "mixture":
            if not isinstance(model, MixtureInferenceVAE):
                raise ConfigError("--init mixture needs the MIN-VAE (two encoders to mix)")
            self.responsibility = visual_responsibility(model, power, lips).unsqueeze(-1)
        with torch.enable_grad():
            mean, log_var = self._encode(power, lips)
            params = list(self.model.parameters())
            grads = torch.autograd.grad((mean.sum() + log_var.sum()), params, allow_unused=True)
        for p, g in zip(params, grads):
            p.requires_grad_(g is not None)

    def _encode(
        self, power: torch.Tensor, lips: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        if self.responsibility is not None:
            # q(z_t) of VEM is one Gaussian: moment-match the two-component mixture
            r = self.responsibility
            (loc_a, sc_a), (loc_v, sc_v) = m.encode_audio(power), m.encode_visual(lips)
            mean = r * loc_v + (1 - r) * loc_a
            second = r * (sc_v.square() + loc_v.square()) + (1 - r) * (
                sc_a.square() + loc_a.square()
            )
            return mean, (second - mean.square()).clamp_min(1e-8).log()
        if self.init == "visual":
            loc, scale = m.encode_visual(lips)
        elif isinstance(m, MixtureInferenceVAE):
            loc, scale = m.encode_audio(power)
        else:
            loc, scale = m.encode(power, lips)
        return loc, 2 * scale.log()

    def forward(self, power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._encode(power, self.lips)
