"""The recurrent VAE (RVAE) speech prior as a Pyro model and guide.

Leglaive, Alameda-Pineda, Girin & Horaud, "A recurrent variational autoencoder for speech
enhancement", ICASSP 2020 (the causal "RNN" generative model with the non-causal encoder; one of
the dynamical VAEs of Bie et al., TASLP 2022). For the frames ``t = 0..T-1`` of a frames-major
power spectrogram ``p_t = |s_t|^2`` ``(T, F)``:

    z_t ~ N(0, I)                                  independently over t
    h_t = GRU_dec(z_0, ..., z_t)                   a forward RNN over the latents
    s_ft | z_{0:t} ~ N_c(0, v_f(h_t)),   log v(h) = W_o h + b_o
    i.e.  p_ft | z_{0:t} ~ Exp(rate = 1 / v_f(h_t))   (the per-frame priors' convention)

so the latents are independent a priori but every frame's variance depends on the whole past
trajectory: the posterior ``p(z | x)`` couples all frames, and no per-frame (or checkerboard)
MH move is local here -- changing ``z_t`` changes ``v_{t'}`` for every ``t' >= t``.

Inference network (the guide; the paper's encoder): a bidirectional GRU over the normalised
log-power ``g_t = BiGRU(x_{0:T-1})_t`` and a forward GRU over the sampled latents
``k_{t-1} = GRU_z(z_0, ..., z_{t-1})`` (``k_{-1} = 0``),

    e_t = tanh(W_e [g_t; k_{t-1}] + b_e),
    q(z_t | z_{0:t-1}, x_{0:T-1}) = N(W_m e_t + b_m, diag softplus(W_s e_t + b_s)^2).

Pyro: a plate ``"sequences"`` at ``dim=-1`` over a batch of sequences, one site ``"z_{t}"`` per
frame, one observed site ``"x"`` for the whole power (event dims ``(T, F)``); trained by
``TraceMeanField_ELBO`` (closed-form KL of each ``q(z_t | ...)`` from ``N(0, I)``) with the
DKF's trainer (:func:`avgen.models.dvae.train.fit_dkf`, which takes any model of this shape).
Without Pyro, :meth:`RecurrentVAE.log_joint` is the same log density for chains.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as nnf

from avgen.errors import ConfigError
from avgen.models.dict_config import checked_from_dict
from avgen.models.dvae.hooks import TemporalPriorHooks, gaussian_log_density_of_draw
from avgen.models.vae.likelihood import exponential_log_likelihood_from_log_variance
from avgen.models.vae.networks import LogPowerInput

Gaussian = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class RVAEConfig:
    """Sizes of an RVAE prior (L = 16 and 128-unit recurrent layers as Bie et al.'s DVAEs)."""

    n_freq: int = 513
    latent_dim: int = 16
    decoder_rnn_dim: int = 128  # GRU_dec
    encoder_rnn_dim: int = 128  # each direction of the encoder's BiGRU over x
    latent_rnn_dim: int = 32  # GRU_z over the sampled latents
    encoder_hidden_dim: int = 64  # e_t
    log_eps: float = 1e-10

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name != "log_eps" and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{field.name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RVAEConfig:
        """From :meth:`to_dict`'s form; an unknown key is a :class:`ConfigError`."""
        return checked_from_dict(cls, values)


class RecurrentVAE(TemporalPriorHooks, nn.Module):
    """RVAE speech prior: i.i.d. standard-normal latents, a forward-RNN decoder over them, and a
    bidirectional-RNN (over x) + forward-RNN (over z) guide."""

    name: ClassVar[str] = "rvae"
    # unsupervised enhancement (TemporalPriorHooks): MALA on the whole trajectory
    # (avgen.models.dvae.trajectory); per-frame and checkerboard moves are not local here
    schemes: ClassVar[tuple[str, ...]] = ("mcem-mala", "vem")
    scheme_note: ClassVar[str] = (
        "each latent frame reaches every later frame through the decoder's RNN, so no per-frame "
        "move is local; MALA moves the whole trajectory"
    )

    def __init__(self, config: RVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = config if config is not None else RVAEConfig()
        self.config = dataclasses.replace(config, **overrides) if overrides else config
        c = self.config
        self.decoder_rnn = nn.GRU(c.latent_dim, c.decoder_rnn_dim, batch_first=True)
        self.decoder_output = nn.Linear(c.decoder_rnn_dim, c.n_freq)
        self.audio_input = LogPowerInput(c.n_freq, c.log_eps)
        self.encoder_rnn = nn.GRU(c.n_freq, c.encoder_rnn_dim, batch_first=True, bidirectional=True)
        self.latent_rnn = nn.GRUCell(c.latent_dim, c.latent_rnn_dim)
        self.encoder_hidden = nn.Linear(
            2 * c.encoder_rnn_dim + c.latent_rnn_dim, c.encoder_hidden_dim
        )
        self.encoder_loc = nn.Linear(c.encoder_hidden_dim, c.latent_dim)
        self.encoder_scale = nn.Linear(c.encoder_hidden_dim, c.latent_dim)
        self.register_buffer("data_initialized", torch.tensor(False))

    # ------------------------------------------------------------------ plain torch API
    @property
    def device(self) -> torch.device:
        return self.decoder_output.weight.device

    def decode_log_variance(self, z: torch.Tensor) -> torch.Tensor:
        """``log v_t = W_o GRU_dec(z_{0:t}) + b_o``: ``(..., T, L) -> (..., T, F)`` (any
        leading dimensions, e.g. samples and chains)."""
        lead = z.shape[:-2]
        flat = z.reshape(-1, *z.shape[-2:])
        hidden, _ = self.decoder_rnn(flat)
        return self.decoder_output(hidden).reshape(*lead, z.shape[-2], self.config.n_freq)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The speech variance ``v(z_{0:t})``: ``(..., T, L) -> (..., T, F)``."""
        return torch.exp(self.decode_log_variance(z))

    def log_joint(self, power: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(p, z) = sum_t [log N(z_t; 0, I) + log p(p_t | z_{0:t})]`` for clean power
        ``(..., T, F)`` and latents ``(..., T, L)``: ``(...)``, one number per trajectory."""
        prior = -0.5 * (z.square() + math.log(2 * math.pi)).sum((-1, -2))
        emission = exponential_log_likelihood_from_log_variance(power, self.decode_log_variance(z))
        return prior + emission.sum(-1)

    def encoder_features(self, power: torch.Tensor) -> torch.Tensor:
        """``g_t = BiGRU(x)_t``: ``(B, T, F) -> (B, T, 2 encoder_rnn_dim)``."""
        out, _ = self.encoder_rnn(self.audio_input(power))
        return out

    def _posterior_step(self, features: torch.Tensor, memory: torch.Tensor) -> Gaussian:
        hidden = torch.tanh(self.encoder_hidden(torch.cat([features, memory], -1)))
        return self.encoder_loc(hidden), nnf.softplus(self.encoder_scale(hidden)) + 1e-4

    @torch.no_grad()
    def encode_path(self, power: torch.Tensor) -> Gaussian:
        """The guide followed at its means (``z_t`` = its mean given the previous means), with
        the scales along that path: ``(T, F) -> ((T, L), (T, L))`` (or batched)."""
        batch = self._batch(power)
        g = self.encoder_features(batch)
        memory = batch.new_zeros(batch.shape[0], self.config.latent_rnn_dim)
        locs, scales = [], []
        for t in range(batch.shape[1]):
            loc, scale = self._posterior_step(g[:, t], memory)
            memory = self.latent_rnn(loc, memory)
            locs.append(loc)
            scales.append(scale)
        loc, scale = torch.stack(locs, 1), torch.stack(scales, 1)
        return (loc, scale) if power.ndim == 3 else (loc[0], scale[0])

    def guide_rsample(
        self, power: torch.Tensor, eps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised draws from the guide on one power ``(T, F)``: ``z_t = m_t + s_t
        eps_t``, ``(m_t, s_t)`` from ``g_t`` and ``k_{t-1} = GRU_z(z_{0:t-1})``, for standard
        normal ``eps`` ``(S, T, L)``; returns ``z`` ``(S, T, L)`` and ``log q(z_t | z_{0:t-1},
        x)`` per frame ``(S, T)``, differentiable in the guide's weights (for
        :class:`inference.vem.StructuredVariationalEStep`)."""
        g = self.encoder_features(self._batch(power))[0]
        n = eps.shape[0]
        memory = eps.new_zeros(n, self.config.latent_rnn_dim)
        draws, log_q = [], []
        for t in range(eps.shape[1]):
            loc, scale = self._posterior_step(g[t].expand(n, -1), memory)
            z_t = loc + scale * eps[:, t]
            log_q.append(gaussian_log_density_of_draw(eps[:, t], scale))
            draws.append(z_t)
            memory = self.latent_rnn(z_t, memory)
        return torch.stack(draws, 1), torch.stack(log_q, 1)

    @torch.no_grad()
    def prior_path(self, n_frames: int) -> Gaussian:
        """The prior's mean and scale at every frame: zeros and ones ``(T, L)``."""
        loc = torch.zeros(n_frames, self.config.latent_dim, device=self.device)
        return loc, torch.ones_like(loc)

    @property
    def decoder(self) -> Any:
        """``z (..., T, L) -> log v (..., T, F)`` (:meth:`decode_log_variance`): what the
        enhancement problem decodes samples with."""
        return self.decode_log_variance

    def noisy_problem(self, power: torch.Tensor, e_step: Any, **options: Any) -> Any:
        """The EM problem of ``x_ft ~ N_c(0, g_t v_f(z_{0:t}) + (WH)_ft)``: the per-frame
        problem of :class:`inference.nmf_em.GaussianScaleNMF` with the sequence decoder (its
        fused terms sum to the log joint, the latents being i.i.d. ``N(0, I)``); ``e_step`` must
        move the whole trajectory (:meth:`wrap_e_step`)."""
        from inference.nmf_em import GaussianScaleNMF

        return GaussianScaleNMF(power, self.decode_log_variance, e_step, **options)

    def wrap_e_step(self, e_step: Any) -> Any:
        """A named scheme's E-step run on the whole trajectory as one block
        (:class:`~avgen.models.dvae.trajectory.TrajectoryEStep`)."""
        from avgen.models.dvae.trajectory import TrajectoryEStep
        from inference.vem import VariationalEStep

        if isinstance(e_step, VariationalEStep):  # its guide draws whole trajectories already
            return e_step
        return TrajectoryEStep(e_step)

    # ------------------------------------------------------------------ Pyro model and guide
    def model(self, power: torch.Tensor, *, kl_weight: float = 1.0) -> None:
        """``p(z, p)`` for power ``(T, F)`` or ``(B, T, F)`` (observed)."""
        pyro.module(self.name, self)
        batch = self._batch(power)
        n_seq, n_frames, _ = batch.shape
        loc = batch.new_zeros(n_seq, self.config.latent_dim)
        scale = torch.ones_like(loc)
        with pyro.plate("sequences", n_seq, dim=-1):
            zs = []
            for t in range(n_frames):
                with pyro.poutine.scale(scale=kl_weight):
                    zs.append(pyro.sample(f"z_{t}", dist.Normal(loc, scale).to_event(1)))
            rate = torch.exp(-self.decode_log_variance(torch.stack(zs, 1)))
            pyro.sample("x", dist.Exponential(rate).to_event(2), obs=batch)

    def guide(self, power: torch.Tensor, *, kl_weight: float = 1.0) -> None:
        """``q(z | p) = prod_t q(z_t | z_{0:t-1}, p)``, the paper's encoder."""
        pyro.module(self.name, self)
        batch = self._batch(power)
        n_seq, n_frames, _ = batch.shape
        g = self.encoder_features(batch)
        memory = batch.new_zeros(n_seq, self.config.latent_rnn_dim)
        with pyro.plate("sequences", n_seq, dim=-1):
            for t in range(n_frames):
                loc, scale = self._posterior_step(g[:, t], memory)
                with pyro.poutine.scale(scale=kl_weight):
                    z_t = pyro.sample(f"z_{t}", dist.Normal(loc, scale).to_event(1))
                memory = self.latent_rnn(z_t, memory)

    # ------------------------------------------------------------------ set-up
    @torch.no_grad()
    def initialize_from_data(self, power: torch.Tensor) -> None:
        """The encoder's input normalisation from the log-power of frames ``(N, F)`` and the
        decoder's output bias at the log mean power per bin (training starts from the
        fixed-variance model), as the DKF and the per-frame priors do."""
        frames = power.reshape(-1, power.shape[-1]).to(self.device)
        self.audio_input.fit(frames)
        self.decoder_output.bias.copy_(torch.log(frames.mean(0) + self.config.log_eps))
        self.decoder_output.weight.mul_(0.1)
        self.data_initialized.fill_(True)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, config={self.config}"
