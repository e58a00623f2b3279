"""The deep Kalman filter (DKF) speech prior as a Pyro model and guide.

Generative model (Krishnan, Shalit & Sontag 2017; as the speech prior of Bie, Leglaive,
Alameda-Pineda & Girin, "Unsupervised speech enhancement using dynamical variational
autoencoders", IEEE/ACM TASLP 2022), for the frames t = 0..T-1 of a frames-major power
spectrogram ``p_t = |s_t|^2`` ``(T, F)``:

    z_t | z_{t-1} ~ N(mu(z_{t-1}), diag sigma^2(z_{t-1})),      z_{-1} := 0
    s_ft | z_t    ~ N_c(0, v_f(z_t))      i.e.  p_ft | z_t ~ Exp(rate = 1 / v_f(z_t))

with the gated transition of Pyro's deep Markov model (Krishnan et al. 2017, section 5)

    g = sigmoid(W_2 relu(W_1 z + b_1) + b_2),   h = W_4 relu(W_3 z + b_3) + b_4
    mu(z) = (1 - g) * (W_0 z + b_0) + g * h,    sigma(z) = softplus(W_5 relu(h) + b_5)

and the per-frame decoder of the VAE priors, ``log v(z) = W_o tanh(W_z z + b) + b_o``
(:class:`~avgen.models.vae.networks.Decoder`). The likelihood is the Exponential on the power,
as the per-frame priors' (:mod:`avgen.models.vae.likelihood`: the complex Gaussian up to
``log pi`` per bin), so ELBOs compare with theirs in nats per frame.

Inference network (the guide, Bie et al.'s DKF encoder): a backward GRU over the normalised
log-power ``g_t = RNN(x_{t:T-1})``, combined with the previous latent as in Pyro's DMM,

    c_t = (tanh(W_c z_{t-1} + b_c) + g_t) / 2,
    q(z_t | z_{t-1}, x_{t:}) = N(W_m c_t, diag softplus(W_s c_t)^2).

Pyro: a plate ``"sequences"`` at ``dim=-1`` over a batch of sequences and ``pyro.markov`` over
frames, one site ``"z_{t}"`` and one observed ``"x_{t}"`` per frame; trained by
``TraceMeanField_ELBO`` (the KL of each ``z_t`` given the sampled ``z_{t-1}`` in closed form, as
Pyro's DMM example does). Without Pyro, :meth:`DeepKalmanFilter.markov_terms` gives the per-frame
emission and transition log densities that :mod:`inference.markov_mh` samples from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from torch import nn
from torch.nn import functional as nnf

from avgen.errors import ConfigError
from avgen.models.dict_config import checked_from_dict
from avgen.models.dvae.hooks import TemporalPriorHooks, gaussian_log_density_of_draw
from avgen.models.vae.likelihood import exponential_log_likelihood_from_log_variance
from avgen.models.vae.networks import Decoder, LogPowerInput
from inference.markov_mh import MarkovTerms

Gaussian = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class DKFConfig:
    """Sizes of a DKF prior (513 bins as the other priors; L = 16 as Bie et al.'s DVAEs)."""

    n_freq: int = 513
    latent_dim: int = 16
    hidden_dim: int = 128  # decoder hidden layer
    transition_dim: int = 64  # gated transition hidden layers
    rnn_dim: int = 128  # encoder features and backward GRU
    log_eps: float = 1e-10  # floor of the encoder's log-power input

    def __post_init__(self) -> None:
        for name in ("n_freq", "latent_dim", "hidden_dim", "transition_dim", "rnn_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DKFConfig:
        """From :meth:`to_dict`'s form; an unknown key is a :class:`ConfigError`."""
        return checked_from_dict(cls, values)


class GatedTransition(nn.Module):
    """``z_{t-1} -> (mu, sigma)`` of ``p(z_t | z_{t-1})`` (Krishnan et al. 2017; Pyro's DMM).

    The identity-initialised linear path makes the untrained prior a near random walk."""

    def __init__(self, latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)
        )
        self.proposed = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)
        )
        self.linear = nn.Linear(latent_dim, latent_dim)
        self.scale = nn.Linear(latent_dim, latent_dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(latent_dim))
            self.linear.bias.zero_()

    def forward(self, z_prev: torch.Tensor) -> Gaussian:
        gate = torch.sigmoid(self.gate(z_prev))
        proposed = self.proposed(z_prev)
        loc = (1 - gate) * self.linear(z_prev) + gate * proposed
        scale = nnf.softplus(self.scale(torch.relu(proposed))) + 1e-4
        return loc, scale


class Combiner(nn.Module):
    """``(z_{t-1}, g_t) -> (loc, scale)`` of ``q(z_t | z_{t-1}, x_{t:})`` (Pyro's DMM)."""

    def __init__(self, latent_dim: int, rnn_dim: int) -> None:
        super().__init__()
        self.from_latent = nn.Linear(latent_dim, rnn_dim)
        self.loc = nn.Linear(rnn_dim, latent_dim)
        self.scale = nn.Linear(rnn_dim, latent_dim)

    def forward(self, z_prev: torch.Tensor, features: torch.Tensor) -> Gaussian:
        combined = 0.5 * (torch.tanh(self.from_latent(z_prev)) + features)
        return self.loc(combined), nnf.softplus(self.scale(combined)) + 1e-4


class DeepKalmanFilter(TemporalPriorHooks, nn.Module):
    """DKF speech prior: gated Markov transition, per-frame decoder, backward-RNN guide."""

    name: ClassVar[str] = "dkf"
    # unsupervised enhancement (TemporalPriorHooks): the trajectory is sampled by the
    # checkerboard MH kernel (``markov_prior``) or approximated by the fine-tuned sequential
    # guide (``vem``): per-frame kernels and the per-frame Gaussian do not fit a Markov prior
    markov_prior: ClassVar[bool] = True
    schemes: ClassVar[tuple[str, ...]] = ("mcem-mh", "vem")
    scheme_note: ClassVar[str] = (
        "its latent frames form a Markov chain, sampled by checkerboard MH or approximated by "
        "its fine-tuned guide (vem)"
    )

    def __init__(self, config: DKFConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = config if config is not None else DKFConfig()
        self.config = dataclasses.replace(config, **overrides) if overrides else config
        c = self.config
        self.transition = GatedTransition(c.latent_dim, c.transition_dim)
        self.decoder = Decoder(c.latent_dim, c.hidden_dim, c.n_freq)
        self.audio_input = LogPowerInput(c.n_freq, c.log_eps)
        self.features = nn.Sequential(nn.Linear(c.n_freq, c.rnn_dim), nn.Tanh())
        self.rnn = nn.GRU(c.rnn_dim, c.rnn_dim, batch_first=True)
        self.combiner = Combiner(c.latent_dim, c.rnn_dim)
        self.register_buffer("data_initialized", torch.tensor(False))

    # ------------------------------------------------------------------ plain torch API
    @property
    def device(self) -> torch.device:
        return self.decoder.output.weight.device

    def previous(self, z: torch.Tensor) -> torch.Tensor:
        """``z_{t-1}`` for every frame, ``z_{-1} = 0``: ``(..., T, L) -> (..., T, L)``."""
        return nnf.pad(z[..., :-1, :], (0, 0, 1, 0))

    def transition_log_density(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z_t | z_{t-1})`` per frame (``t = 0``: given ``z_{-1} = 0``): ``(..., T)``."""
        loc, scale = self.transition(self.previous(z))
        return dist.Normal(loc, scale).log_prob(z).sum(-1)

    def decode_log_variance(self, z: torch.Tensor) -> torch.Tensor:
        """``log v(z_t)``: ``(..., T, L) -> (..., T, F)``."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The speech variance ``v(z_t)``: ``(..., T, L) -> (..., T, F)``."""
        return torch.exp(self.decoder(z))

    def markov_terms(self, power: torch.Tensor, z: torch.Tensor) -> MarkovTerms:
        """Per-frame ``log p(p_t | z_t)`` (Exponential convention) and ``log p(z_t | z_{t-1})``
        for clean power ``(..., T, F)`` and latents ``(..., T, L)``; their sum over frames is the
        log joint of the Pyro model."""
        emission = exponential_log_likelihood_from_log_variance(power, self.decoder(z))
        return MarkovTerms(emission, self.transition_log_density(z))

    def backward_features(self, power: torch.Tensor) -> torch.Tensor:
        """``g_t = RNN(x_{t:T-1})`` run backwards in time: ``(B, T, F) -> (B, T, rnn_dim)``."""
        features = self.features(self.audio_input(power))
        out, _ = self.rnn(features.flip(-2))
        return out.flip(-2)

    @torch.no_grad()
    def encode_path(self, power: torch.Tensor) -> Gaussian:
        """The guide followed at its means: ``z_t = loc_t(z_{t-1}, g_t)``, with the scales
        along that path; ``(T, F) -> ((T, L), (T, L))`` (or batched)."""
        batch = self._batch(power)
        h = self.backward_features(batch)
        z_prev = batch.new_zeros(batch.shape[0], self.config.latent_dim)
        locs, scales = [], []
        for t in range(batch.shape[1]):
            z_prev, scale = self.combiner(z_prev, h[:, t])
            locs.append(z_prev)
            scales.append(scale)
        loc, scale = torch.stack(locs, dim=1), torch.stack(scales, dim=1)
        return (loc, scale) if power.ndim == 3 else (loc[0], scale[0])

    def encode_mean(self, power: torch.Tensor) -> torch.Tensor:
        """The guide's trajectory followed at its means, ``(T, F) -> (T, L)`` (or batched): a
        start for test-time chains."""
        return self.encode_path(power)[0]

    def guide_rsample(
        self, power: torch.Tensor, eps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised draws from the guide ``q(z | p)`` on one power ``(T, F)``: ``z_t =
        m_t + s_t eps_t`` with ``(m_t, s_t) = combiner(z_{t-1}, g_t)``, for standard normal
        ``eps`` ``(S, T, L)``; returns ``z`` ``(S, T, L)`` and ``log q(z_t | z_{t-1}, p_{t:})``
        per frame ``(S, T)``, differentiable in the guide's weights (the variational E-step's
        structured guide, :class:`inference.vem.StructuredVariationalEStep`). ``eps = 0``
        follows the mean path of :meth:`encode_path`."""
        h = self.backward_features(self._batch(power))[0]
        z_prev = eps.new_zeros(eps.shape[0], self.config.latent_dim)
        draws, log_q = [], []
        for t in range(eps.shape[1]):
            loc, scale = self.combiner(z_prev, h[t].expand(eps.shape[0], -1))
            z_prev = loc + scale * eps[:, t]
            log_q.append(gaussian_log_density_of_draw(eps[:, t], scale))
            draws.append(z_prev)
        return torch.stack(draws, 1), torch.stack(log_q, 1)

    @torch.no_grad()
    def prior_path(self, n_frames: int) -> Gaussian:
        """The prior followed at its means, ``z_t = mu(z_{t-1})`` from ``z_{-1} = 0``, with the
        transition scales along it: ``((T, L), (T, L))``."""
        z_prev = torch.zeros(self.config.latent_dim, device=self.device)
        locs, scales = [], []
        for _ in range(n_frames):
            z_prev, scale = self.transition(z_prev)
            locs.append(z_prev)
            scales.append(scale)
        return torch.stack(locs), torch.stack(scales)

    @torch.no_grad()
    def sample_prior(self, n_frames: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral draw of a trajectory ``(T, L)`` from ``p(z)``."""
        z_prev = torch.zeros(self.config.latent_dim, device=self.device)
        out = []
        for _ in range(n_frames):
            loc, scale = self.transition(z_prev)
            noise = torch.randn(loc.shape, generator=generator, device=loc.device)
            z_prev = loc + scale * noise
            out.append(z_prev)
        return torch.stack(out)

    # ------------------------------------------------------------------ Pyro model and guide
    def model(self, power: torch.Tensor, *, kl_weight: float = 1.0) -> None:
        """``p(z, p)`` for power ``(T, F)`` or ``(B, T, F)`` (observed)."""
        pyro.module(self.name, self)
        batch = self._batch(power)
        n_seq, n_frames, _ = batch.shape
        z_prev = batch.new_zeros(n_seq, self.config.latent_dim)
        with pyro.plate("sequences", n_seq, dim=-1):
            for t in pyro.markov(range(n_frames)):
                loc, scale = self.transition(z_prev)
                with poutine.scale(scale=kl_weight):
                    z_t = pyro.sample(f"z_{t}", dist.Normal(loc, scale).to_event(1))
                rate = torch.exp(-self.decoder(z_t))
                pyro.sample(f"x_{t}", dist.Exponential(rate).to_event(1), obs=batch[:, t])
                z_prev = z_t

    def guide(self, power: torch.Tensor, *, kl_weight: float = 1.0) -> None:
        """``q(z | p) = prod_t q(z_t | z_{t-1}, p_{t:})``, the backward-RNN inference network."""
        pyro.module(self.name, self)
        batch = self._batch(power)
        n_seq, n_frames, _ = batch.shape
        h = self.backward_features(batch)
        z_prev = batch.new_zeros(n_seq, self.config.latent_dim)
        with pyro.plate("sequences", n_seq, dim=-1):
            for t in pyro.markov(range(n_frames)):
                loc, scale = self.combiner(z_prev, h[:, t])
                with poutine.scale(scale=kl_weight):
                    z_prev = pyro.sample(f"z_{t}", dist.Normal(loc, scale).to_event(1))

    # ------------------------------------------------------------------ the noisy posterior
    def noisy_problem(self, power: torch.Tensor, e_step: Any, **options: Any) -> Any:
        """The EM problem of the noisy observation ``x_ft ~ N_c(0, g_t v_f(z_t) + (WH)_ft)``
        with this Markov prior (:class:`~avgen.models.dvae.enhance.MarkovGaussianScaleNMF`;
        ``options`` those of :class:`inference.nmf_em.GaussianScaleNMF`)."""
        from avgen.models.dvae.enhance import MarkovGaussianScaleNMF

        return MarkovGaussianScaleNMF(power, self, e_step, **options)

    # ------------------------------------------------------------------ set-up
    @torch.no_grad()
    def initialize_from_data(self, power: torch.Tensor) -> None:
        """The encoder's input normalisation from the log-power of frames ``(N, F)`` and the
        decoder's output bias at the log mean power per bin (training starts from the
        fixed-variance model), as the per-frame priors do
        (:meth:`~avgen.models.vae.models.SpeechVAE.initialize_from_data`)."""
        frames = power.reshape(-1, power.shape[-1]).to(self.device)
        self.audio_input.fit(frames)
        self.decoder.output.bias.copy_(torch.log(frames.mean(0) + self.config.log_eps))
        self.decoder.output.weight.mul_(0.1)
        self.data_initialized.fill_(True)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, config={self.config}"
