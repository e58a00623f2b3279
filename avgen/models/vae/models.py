"""The VAE speech priors as Pyro models and guides: A-VAE, V-VAE, AV-VAE, AV-CVAE.

Generative model shared by all (Leglaive, Girin & Horaud 2018; Sadeghi, Leglaive,
Alameda-Pineda, Girin & Horaud 2020), for frames t = 1..T of a frames-major power spectrogram
``p_t = |s_t|^2`` (T, F):

    z_t ~ p(z_t)                                   N(0, I); AV-CVAE: N(mu(v_t), diag sigma2(v_t))
    s_ft | z_t ~ N_c(0, sigma2_f(z_t [, v_t]))     i.e. p_ft | z_t ~ Exp(rate = 1 / sigma2_f)

and one Gaussian inference network per model (the guide):

    model     encoder q(z_t | .)     decoder sigma2(.)     prior p(z_t | .)
    a-vae     s_t                    z_t                   N(0, I)
    v-vae     v_t                    z_t                   N(0, I)
    av-vae    s_t, v_t (concat.)     z_t, v_t              N(0, I)
    av-cvae   s_t, v_t (concat.)     z_t, v_t              N(mu(v_t), diag sigma2(v_t))

The V-VAE decodes audio from a latent inferred from the lips alone, so its ELBO bounds
``log p(s)`` with a visual posterior; AV-VAE and AV-CVAE condition the decoder on ``v`` and
bound ``log p(s | v)``. Per frame the ELBO is

    ELBO_t = E_q(z_t)[log p(p_t | z_t)] - KL(q(z_t) || p(z_t))

with the KL in closed form (Pyro's :class:`~pyro.infer.TraceMeanField_ELBO`, as the papers'
losses). KL warm-up multiplies the latent site's log densities by ``kl_weight`` through
:func:`pyro.poutine.scale` in both model and guide. The likelihood is the Exponential on the
power (:mod:`avgen.models.vae.likelihood`: equal to the complex Gaussian up to ``log(pi)`` per
bin). The MIN-VAE lives in :mod:`avgen.models.vae.min_vae`.

Pyro conventions: the plate ``"frames"`` sits at ``dim=-1`` (``max_plate_nesting=1``);
``model(power, lips=None, *, encoder_power=None, kl_weight=1.0)`` and ``guide`` with the same
signature; ``encoder_power`` (default ``power``) is what the audio encoder reads, so that
training can corrupt the encoder's input while the likelihood scores the clean power. Without
Pyro, :meth:`SpeechVAE.encode`, :meth:`SpeechVAE.decode`, :meth:`SpeechVAE.latent_log_prior`
and :meth:`SpeechVAE.log_likelihood` give the pieces the enhancement code needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import ELBO, TraceMeanField_ELBO
from torch import nn

from avgen.errors import ConfigError, VideoError
from avgen.models.vae.likelihood import exponential_log_likelihood_from_log_variance
from avgen.models.vae.networks import (
    AudioEncoder,
    AudioVisualEncoder,
    Decoder,
    LipInput,
    LogPowerInput,
    VisualEncoder,
    VisualFeatures,
    VisualPrior,
)
from inference.prior_terms import GaussianPriorCorrection

Gaussian = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of a VAE speech prior (the papers': 513 bins, 128 hidden, L = 32, lips 512)."""

    n_freq: int = 513
    latent_dim: int = 32
    hidden_dim: int = 128
    lip_dim: int = 32 * 32
    visual_hidden_dim: int = 512
    visual_net: str = "mlp"  # "mlp" (the papers') or "cnn"
    log_eps: float = 1e-10  # floor of the encoders' log-power input
    lip_input: str = "raw"  # "raw" (the papers') or "standardized" (networks.LipInput)

    def __post_init__(self) -> None:
        for name in ("n_freq", "latent_dim", "hidden_dim", "lip_dim", "visual_hidden_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.visual_net not in ("mlp", "cnn"):
            raise ConfigError(f"visual_net must be 'mlp' or 'cnn', got {self.visual_net!r}")
        if self.lip_input not in ("standardized", "raw"):
            raise ConfigError(f"lip_input must be 'standardized' or 'raw', got {self.lip_input!r}")

    @property
    def standardized_lips(self) -> bool:
        return self.lip_input == "standardized"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VAEConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} option(s): {', '.join(unknown)}")
        return cls(**values)


class SpeechVAE(nn.Module):
    """Base class: one Gaussian guide, the shared decoder, Pyro ``model``/``guide``.

    Subclasses set :attr:`name`, build their encoder in ``__init__`` and implement
    :meth:`encode` (and :meth:`prior` / :meth:`visual_context` where ``v`` enters the model).
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[VAEConfig]] = VAEConfig
    #: whether the model reads lips at all (guide or model)
    uses_lips: ClassVar[bool] = False
    #: whether the generative side (decoder or prior) is conditioned on the lips
    conditions_on_lips: ClassVar[bool] = False
    #: share of training frames whose audio-encoder input is corrupted (MIN-VAE: 0.5)
    default_corrupt_share: ClassVar[float] = 0.0
    #: where test-time chains may start (:meth:`start_distribution`), and where they do unless
    #: told otherwise (the VAE-NMF papers start from the model's own encoder)
    inits: ClassVar[tuple[str, ...]] = ("prior", "audio")
    default_init: ClassVar[str] = "audio"

    def __init__(self, config: VAEConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = config if config is not None else self.config_class()
        if not isinstance(config, self.config_class):
            raise ConfigError(f"{self.name} takes a {self.config_class.__name__}")
        self.config = dataclasses.replace(config, **overrides) if overrides else config
        c = self.config
        self.audio_input: LogPowerInput | None = None
        self.decoder = Decoder(
            c.latent_dim,
            c.hidden_dim,
            c.n_freq,
            c.visual_hidden_dim if self.conditions_on_lips else None,
        )
        self.register_buffer("data_initialized", torch.tensor(False))

    # ------------------------------------------------------------------ plain torch API
    @property
    def device(self) -> torch.device:
        return self.decoder.output.weight.device

    def visual_context(self, lips: torch.Tensor | None) -> torch.Tensor | None:
        """Features of the lips used by the generative side (decoder, prior); ``None`` for
        models whose decoder and prior ignore the lips. Compute once, pass to :meth:`decode`
        in loops."""
        return None

    def encode(self, power: torch.Tensor, lips: torch.Tensor | None = None) -> Gaussian:
        """The guide's ``(loc, scale)`` of q(z_t | .) for frames ``(..., T, F)``."""
        raise NotImplementedError

    def encode_audio(self, power: torch.Tensor) -> Gaussian:
        """``(loc, scale)`` of the audio-only inference network q(z_t | s_t)."""
        raise ConfigError(f"{self.name} has no audio-only encoder")

    def encode_visual(self, lips: torch.Tensor) -> Gaussian:
        """``(loc, scale)`` of the visual-only inference network q(z_t | v_t)."""
        raise ConfigError(f"{self.name} has no visual-only encoder")

    def prior(self, n_frames: int, *, visual_context: torch.Tensor | None = None) -> Gaussian:
        """``(loc, scale)`` of p(z_t), shaped ``(T, L)`` (or ``(..., T, L)`` from the lips)."""
        zeros = torch.zeros(n_frames, self.config.latent_dim, device=self.device)
        return zeros, torch.ones_like(zeros)

    def decode_log_variance(
        self,
        z: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        visual_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log sigma2(z_t [, v_t])``: ``(..., T, L)`` -> ``(..., T, F)``."""
        if self.conditions_on_lips and visual_context is None:
            visual_context = self.visual_context(self._need_lips(lips, z.shape[-2]))
        return self.decoder(z, visual_context)

    def decode(
        self,
        z: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        visual_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The speech variance ``sigma2(z_t [, v_t])``, ``(..., T, L)`` -> ``(..., T, F)``."""
        return torch.exp(self.decode_log_variance(z, lips, visual_context=visual_context))

    def latent_log_prior(
        self,
        z: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        visual_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log p(z_t [| v_t])`` per frame: ``(..., T, L)`` -> ``(..., T)``."""
        if self.conditions_on_lips and visual_context is None:
            visual_context = self.visual_context(self._need_lips(lips, z.shape[-2]))
        loc, scale = self.prior(z.shape[-2], visual_context=visual_context)
        return dist.Normal(loc, scale).log_prob(z).sum(-1)

    def log_likelihood(
        self,
        power: torch.Tensor,
        z: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        visual_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log p(p_t | z_t [, v_t])`` per frame (Exponential convention): ``(..., T)``."""
        log_var = self.decode_log_variance(z, lips, visual_context=visual_context)
        return exponential_log_likelihood_from_log_variance(power, log_var)

    # ------------------------------------------------------------------ Pyro model and guide
    def model(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        encoder_power: torch.Tensor | None = None,
        kl_weight: float = 1.0,
    ) -> None:
        """p(z, p [| v]) with the frames plate at dim -1; ``power`` (T, F) is observed."""
        pyro.module(self.name, self)
        n_frames = self.check_inputs(power, lips)
        context = self.visual_context(lips) if self.conditions_on_lips else None
        loc, scale = self.prior(n_frames, visual_context=context)
        with pyro.plate("frames", n_frames, dim=-1):
            with poutine.scale(scale=kl_weight):
                z = pyro.sample("z", dist.Normal(loc, scale).to_event(1))
            log_var = self.decoder(z, context)
            pyro.sample("power", dist.Exponential(torch.exp(-log_var)).to_event(1), obs=power)

    def guide(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None = None,
        *,
        encoder_power: torch.Tensor | None = None,
        kl_weight: float = 1.0,
    ) -> None:
        """q(z | s [, v]): the model's inference network, frames plate at dim -1."""
        pyro.module(self.name, self)
        n_frames = self.check_inputs(power, lips)
        loc, scale = self.encode(power if encoder_power is None else encoder_power, lips)
        with pyro.plate("frames", n_frames, dim=-1), poutine.scale(scale=kl_weight):
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def training_guide(self):
        """The guide to hand to SVI (MIN-VAE enumerates its mixture variable)."""
        return self.guide

    def make_elbo(self, num_particles: int = 1, vectorize_particles: bool = False) -> ELBO:
        """The ELBO estimator this model trains with (closed-form KL for Gaussian guides)."""
        return TraceMeanField_ELBO(
            num_particles=num_particles,
            vectorize_particles=vectorize_particles,
            max_plate_nesting=1,
        )

    # ------------------------------------------------------------------ set-up and checks
    @torch.no_grad()
    def initialize_from_data(self, power: torch.Tensor) -> None:
        """Data-dependent start: the encoders' input normalisation from the log-power of
        ``power`` (N, F), and the decoder's output bias at ``log`` of the mean power per bin
        (the maximum-likelihood fixed-variance model), so training starts from that baseline."""
        power = power.to(self.device)
        if self.audio_input is not None:
            self.audio_input.fit(power)
        self.decoder.output.bias.copy_(torch.log(power.mean(0) + self.config.log_eps))
        self.decoder.output.weight.mul_(0.1)
        self.data_initialized.fill_(True)

    @torch.no_grad()
    def fit_lip_inputs(self, lips: torch.Tensor) -> int:
        """Fit every not yet fitted :class:`~avgen.models.vae.networks.LipInput` of the model on
        ``(N, D)`` training lips (a visual encoder taken from a trained model keeps its own);
        returns how many were fitted."""
        inputs = [m for m in self.modules() if isinstance(m, LipInput) and not bool(m.fitted)]
        for module in inputs:
            module.fit(lips)
        return len(inputs)

    def check_inputs(self, power: torch.Tensor, lips: torch.Tensor | None = None) -> int:
        """Check a frames-major ``(T, F)`` power and, for lip models, ``(T, D)`` lips;
        returns ``T``."""
        if power.ndim != 2 or power.shape[-1] != self.config.n_freq:
            raise ConfigError(
                f"{self.name}: power must be frames-major (T, {self.config.n_freq})"
                f", got {tuple(power.shape)}"
            )
        if self.uses_lips:
            self._need_lips(lips, power.shape[0])
        return power.shape[0]

    def _need_lips(self, lips: torch.Tensor | None, n_frames: int) -> torch.Tensor:
        if lips is None:
            raise VideoError(
                f"{self.name} needs the lips: pass lips of shape "
                f"(T, {self.config.lip_dim}) in [0, 1]"
            )
        if lips.shape[-1] != self.config.lip_dim or lips.shape[-2] != n_frames:
            raise VideoError(
                f"{self.name}: lips must be (T={n_frames}, {self.config.lip_dim}), "
                f"got {tuple(lips.shape)}"
            )
        return lips

    # ------------------------------------------------------------------ the noisy posterior
    # What unsupervised enhancement asks of a prior (avgen.pipelines.vae_nmf): each model
    # answers for itself, so that a new prior needs no switch in the pipeline.
    def check_lips(self, lips: torch.Tensor | None, n_frames: int) -> torch.Tensor | None:
        """``lips`` ``(T, D)`` checked for ``n_frames`` frames (:class:`VideoError` if missing or
        misshapen); ``None`` for a model that does not read lips."""
        return self._need_lips(lips, n_frames) if self.uses_lips else None

    def start_distribution(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None,
        init: str,
        *,
        visual_weight: torch.Tensor | None = None,
    ) -> Gaussian:
        """``(loc, scale)`` ``(T, L)`` of the Gaussian the test-time chains start from (at its
        mean) and that variational EM fine-tunes: ``"prior"`` the prior given the lips,
        ``"audio"`` the model's encoder on the noisy power (with the lips for the AV models),
        ``"visual"`` the visual-only encoder. ``visual_weight``: see the MIN-VAE."""
        if init not in self.inits:
            raise ConfigError(
                f"{self.name} cannot start its chains from {init!r}: choose one of "
                f"{', '.join(self.inits)}"
            )
        if init == "prior":
            return self.prior(power.shape[-2], visual_context=self.visual_context(lips))
        if init == "visual":
            return self.encode_visual(self._need_lips(lips, power.shape[-2]))
        return self.encode(power, lips)

    def latent_distribution(
        self, n_frames: int, visual_context: torch.Tensor | None = None
    ) -> dist.Distribution:
        """``p(z_t [| v_t])`` as a distribution with batch shape ``(T,)`` and event shape
        ``(L,)``, for Pyro models of the noisy observation
        (:mod:`avgen.models.vae.noisy_posterior`); its ``log_prob`` is
        :meth:`latent_log_prior`."""
        loc, scale = self.prior(n_frames, visual_context=visual_context)
        return dist.Normal(loc, scale).to_event(1)

    def prior_correction(self, visual_context: torch.Tensor | None) -> Any:
        """``z -> ||z||^2/2 + log p(z_t [| v_t])`` with its constants computed once
        (:mod:`inference.prior_terms`), or ``None`` when the prior is ``N(0, I)``."""
        return None

    def visual_weight(self, power: torch.Tensor, lips: torch.Tensor | None) -> torch.Tensor | None:
        """The weight ``(T,)`` of the visual branch on a noisy input, for models that mix
        branches (MIN-VAE); ``None`` otherwise."""
        return None

    def extra_repr(self) -> str:
        return f"name={self.name!r}, config={self.config}"


class AudioVAE(SpeechVAE):
    """A-VAE (Leglaive, Girin & Horaud 2018): q(z_t | s_t), p(s_t | z_t), p(z_t) = N(0, I)."""

    name = "a-vae"

    def __init__(self, config: VAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.audio_input = LogPowerInput(c.n_freq, c.log_eps)
        self.audio_encoder = AudioEncoder(c.n_freq, c.hidden_dim, c.latent_dim)

    def encode_audio(self, power: torch.Tensor) -> Gaussian:
        return self.audio_encoder(self.audio_input(power))

    def encode(self, power: torch.Tensor, lips: torch.Tensor | None = None) -> Gaussian:
        return self.encode_audio(power)


class VisualVAE(SpeechVAE):
    """V-VAE (Sadeghi et al. 2020): q(z_t | v_t) from the mouth region only,
    p(s_t | z_t) audio decoder, p(z_t) = N(0, I)."""

    name = "v-vae"
    uses_lips = True
    inits = ("prior", "visual")
    default_init = "visual"

    def __init__(self, config: VAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.visual_encoder = VisualEncoder(
            c.lip_dim,
            c.visual_hidden_dim,
            c.hidden_dim,
            c.latent_dim,
            c.visual_net,
            c.standardized_lips,
        )

    def encode_visual(self, lips: torch.Tensor) -> Gaussian:
        return self.visual_encoder(lips)

    def encode(self, power: torch.Tensor, lips: torch.Tensor | None = None) -> Gaussian:
        return self.encode_visual(self._need_lips(lips, power.shape[-2]))

    @torch.no_grad()
    def init_from(self, a_vae: SpeechVAE) -> None:
        """Take the decoder of a trained A-VAE. Trained with that decoder frozen
        (``TrainConfig(freeze_decoder=True)``), the visual encoder learns to map the lips into
        the A-VAE's latent space, so that a MIN-VAE can later combine both encoders with one
        decoder (:meth:`~avgen.models.vae.min_vae.MixtureInferenceVAE.init_from`)."""
        if a_vae.name != "a-vae":
            raise ConfigError(f"expected a trained a-vae, got {a_vae.name}")
        for f in ("n_freq", "latent_dim", "hidden_dim"):
            if getattr(self.config, f) != getattr(a_vae.config, f):
                raise ConfigError(
                    f"cannot initialise v-vae from a-vae: {f} differs "
                    f"({getattr(self.config, f)} here, "
                    f"{getattr(a_vae.config, f)} there)"
                )
        self.decoder.load_state_dict(a_vae.decoder.state_dict())
        self.data_initialized.copy_(a_vae.data_initialized)


class AudioVisualVAE(SpeechVAE):
    """AV-VAE (Sadeghi et al. 2020): q(z_t | s_t, v_t) on the concatenated inputs,
    p(s_t | z_t, v_t), p(z_t) = N(0, I).

    One visual feature network ``phi`` (a 512-unit layer on the pixels, or the CNN option) feeds
    both the encoder and the decoder; the papers give each its own first visual layer. Sharing
    it keeps the bundled weights small (< 5 MB); the model is otherwise the same.
    """

    name = "av-vae"
    uses_lips = True
    conditions_on_lips = True

    def __init__(self, config: VAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.audio_input = LogPowerInput(c.n_freq, c.log_eps)
        self.visual_features = VisualFeatures(
            c.lip_dim, c.visual_hidden_dim, c.visual_net, c.standardized_lips
        )
        self.encoder = AudioVisualEncoder(c.n_freq, c.visual_hidden_dim, c.hidden_dim, c.latent_dim)

    def visual_context(self, lips: torch.Tensor | None) -> torch.Tensor | None:
        if lips is None:
            raise VideoError(f"{self.name} needs the lips (T, {self.config.lip_dim})")
        return self.visual_features(lips)

    def encode(self, power: torch.Tensor, lips: torch.Tensor | None = None) -> Gaussian:
        lips = self._need_lips(lips, power.shape[-2])
        return self.encoder(self.audio_input(power), self.visual_features(lips))


class AudioVisualCVAE(AudioVisualVAE):
    """AV-CVAE (Sadeghi et al. 2020): AV-VAE with the visual prior
    p(z_t | v_t) = N(mu(v_t), diag sigma2(v_t)) instead of N(0, I); the ELBO's KL is then
    KL(q(z_t | s_t, v_t) || p(z_t | v_t)), so the lips alone give an informed prior at test
    time."""

    name = "av-cvae"

    def __init__(self, config: VAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.prior_net = VisualPrior(c.visual_hidden_dim, c.hidden_dim, c.latent_dim)

    def prior(self, n_frames: int, *, visual_context: torch.Tensor | None = None) -> Gaussian:
        if visual_context is None:
            raise VideoError(f"{self.name}: the prior p(z | v) needs the lips")
        return self.prior_net(visual_context)

    @torch.no_grad()
    def prior_correction(self, visual_context: torch.Tensor | None) -> GaussianPriorCorrection:
        loc, scale = self.prior(visual_context.shape[0], visual_context=visual_context)
        return GaussianPriorCorrection(loc, scale)
