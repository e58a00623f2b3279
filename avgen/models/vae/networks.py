"""Building blocks of the VAE speech priors: input normalisation, encoders, decoder, priors.

Sizes follow the papers (Leglaive et al. 2018; Sadeghi et al. 2020; Sadeghi & Alameda-Pineda
2021): one hidden layer of 128 tanh units on the audio side, latent dimension L = 32, and on the
visual side a 512-unit ReLU layer on the raw mouth-region pixels before the 128-unit tanh layer.
All are configurable (:class:`~avgen.models.vae.models.VAEConfig`).

Every network works on any leading shape: frames-major ``(..., T, F)`` power, ``(..., T, D)``
lips, ``(..., T, L)`` latents.

Deviations from the papers, said once here: the audio encoders read the normalised log-power
``(log(p + eps) - m_f) / s_f`` (per-frequency mean and deviation of the training log-power,
frozen buffers set by :meth:`LogPowerInput.fit`) instead of the raw power. The raw power spans
ten orders of magnitude and saturates a tanh layer; the generative model is unchanged. In the
same spirit the visual networks can read standardised lips ``(v_d - m_d) / s`` (option
``lip_input="standardized"``, :class:`LipInput`: the training set's mean image and one overall
deviation): the mouth moves a few percent of the pixels' range (per-pixel deviation over frames
about 0.03 for a mean of 0.4), and on raw pixels (the papers', the default) the visual encoders
of the bundled V-VAE and MIN-VAE drove every tanh unit into saturation (all 128 at
``|h| > 0.999``), so their output does not depend on the lips at all. Standardised lips were
measured and not adopted: the encoders then read the lips, but generalise worse to unseen
speakers (``docs/models-vae.md``, "The visual encoders").
"""

from __future__ import annotations

import math

import torch
from torch import nn

from avgen.errors import ConfigError


class LogPowerInput(nn.Module):
    """``p -> (log(p + eps) - loc) / scale`` per frequency; ``loc``/``scale`` are buffers."""

    def __init__(self, n_freq: int, eps: float = 1e-10) -> None:
        super().__init__()
        self.eps = float(eps)
        self.register_buffer("loc", torch.zeros(n_freq))
        self.register_buffer("scale", torch.ones(n_freq))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return (torch.log(power + self.eps) - self.loc) / self.scale

    @torch.no_grad()
    def fit(self, power: torch.Tensor) -> None:
        """Set ``loc``/``scale`` to the mean and deviation of the log-power of ``(N, F)`` frames."""
        logp = torch.log(power.reshape(-1, power.shape[-1]) + self.eps)
        self.loc.copy_(logp.mean(0))
        self.scale.copy_(logp.std(0).clamp_min(1e-3))


class LipInput(nn.Module):
    """``v -> (v - loc) / scale``: ``loc`` the mean lip image ``(D,)``, ``scale`` one overall
    deviation of the pixels about it (a scalar: a per-pixel one would blow up the pixels that
    never change, e.g. the corners); buffers set once by :meth:`fit` (``fitted`` says whether
    it was)."""

    def __init__(self, lip_dim: int) -> None:
        super().__init__()
        self.register_buffer("loc", torch.zeros(lip_dim))
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("fitted", torch.tensor(False))

    def forward(self, lips: torch.Tensor) -> torch.Tensor:
        return (lips - self.loc) / self.scale

    @torch.no_grad()
    def fit(self, lips: torch.Tensor) -> None:
        """Set ``loc``/``scale`` from ``(N, D)`` training lips."""
        flat = lips.reshape(-1, lips.shape[-1]).to(self.loc)
        self.loc.copy_(flat.mean(0))
        self.scale.copy_((flat - self.loc).square().mean().sqrt().clamp_min(1e-4))
        self.fitted.fill_(True)


class GaussianHead(nn.Module):
    """Hidden features -> ``(loc, scale)`` of a diagonal Gaussian (``scale = exp(logvar / 2)``)."""

    def __init__(self, in_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.loc = nn.Linear(in_dim, latent_dim)
        self.logvar = nn.Linear(in_dim, latent_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loc(h), torch.exp(0.5 * self.logvar(h))


class AudioEncoder(nn.Module):
    """q(z_t | s_t): normalised log-power -> ``hidden`` tanh -> Gaussian (Leglaive et al. 2018)."""

    def __init__(self, n_freq: int, hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_freq, hidden_dim), nn.Tanh())
        self.head = GaussianHead(hidden_dim, latent_dim)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.hidden(features))


def lip_side(lip_dim: int) -> int:
    """Side of the square lip image of ``lip_dim`` pixels (ConfigError if not square)."""
    side = math.isqrt(lip_dim)
    if side * side != lip_dim:
        raise ConfigError(f"lip_dim={lip_dim} is not a square image (e.g. 32*32 = 1024)")
    return side


class VisualFeatures(nn.Module):
    """Mouth-region pixels ``(..., D)`` in [0, 1] -> features ``(..., visual_hidden_dim)``.

    ``kind="mlp"``: one ReLU layer on the flattened pixels, as the papers do (Sadeghi et al.
    2020 and their code: raw 67x67 lips through a 512-unit layer). ``kind="cnn"``: a small
    convolutional option on the ``(1, side, side)`` image (three stride-2 convolutions 16-32-64
    channels, ReLU, then a ReLU linear layer); ``side`` must be a multiple of 8.
    ``standardize``: read the pixels through a :class:`LipInput` (``VAEConfig.lip_input``).
    """

    def __init__(
        self, lip_dim: int, out_dim: int, kind: str = "mlp", standardize: bool = False
    ) -> None:
        super().__init__()
        self.lip_dim, self.kind = lip_dim, kind
        self.input = LipInput(lip_dim) if standardize else None
        if kind == "mlp":
            self.net: nn.Module = nn.Sequential(nn.Linear(lip_dim, out_dim), nn.ReLU())
        elif kind == "cnn":
            side = lip_side(lip_dim)
            if side % 8:
                raise ConfigError(
                    f"the CNN lip network needs a side that is a multiple of 8, got {side}x{side}"
                )
            self.side = side
            self.net = nn.Sequential(
                nn.Conv2d(1, 16, 5, stride=2, padding=2),
                nn.ReLU(),
                nn.Conv2d(16, 32, 5, stride=2, padding=2),
                nn.ReLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(64 * (side // 8) ** 2, out_dim),
                nn.ReLU(),
            )
        else:
            raise ConfigError(f"unknown visual network {kind!r}; choose 'mlp' or 'cnn'")

    def forward(self, lips: torch.Tensor) -> torch.Tensor:
        if self.input is not None:
            lips = self.input(lips)
        if self.kind == "mlp":
            return self.net(lips)
        lead = lips.shape[:-1]
        images = lips.reshape(-1, 1, self.side, self.side)
        return self.net(images).reshape(*lead, -1)


class VisualEncoder(nn.Module):
    """q(z_t | v_t): lips -> :class:`VisualFeatures` -> ``hidden`` tanh -> Gaussian
    (the V-VAE encoder of Sadeghi et al. 2020)."""

    def __init__(
        self,
        lip_dim: int,
        visual_hidden_dim: int,
        hidden_dim: int,
        latent_dim: int,
        kind: str = "mlp",
        standardize: bool = False,
    ) -> None:
        super().__init__()
        self.features = VisualFeatures(lip_dim, visual_hidden_dim, kind, standardize)
        self.hidden = nn.Sequential(nn.Linear(visual_hidden_dim, hidden_dim), nn.Tanh())
        self.head = GaussianHead(hidden_dim, latent_dim)

    def forward(self, lips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.hidden(self.features(lips)))


class AudioVisualEncoder(nn.Module):
    """q(z_t | s_t, v_t) = N(mu, diag sigma2) with ``h = tanh(W_s a(s_t) + W_v phi(v_t) + b)``:
    one linear layer on the concatenation ``[a(s_t), phi(v_t)]`` (Sadeghi et al. 2020, AV-VAE
    encoder), ``phi`` the model's :class:`VisualFeatures`."""

    def __init__(
        self, n_freq: int, visual_hidden_dim: int, hidden_dim: int, latent_dim: int
    ) -> None:
        super().__init__()
        self.audio = nn.Linear(n_freq, hidden_dim)
        self.visual = nn.Linear(visual_hidden_dim, hidden_dim, bias=False)
        self.head = GaussianHead(hidden_dim, latent_dim)

    def forward(
        self, audio_features: torch.Tensor, visual_features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(torch.tanh(self.audio(audio_features) + self.visual(visual_features)))


class Decoder(nn.Module):
    """``z_t [, phi(v_t)] -> log sigma2(z_t [, v_t])``, frames-major ``(..., T, F)``.

    ``log sigma2 = W_o tanh(W_z z + [W_v phi(v)] + b) + b_o``: the decoders of Leglaive et al.
    2018 (audio only) and of Sadeghi et al. 2020 (AV-VAE / AV-CVAE: the visual features
    enter the hidden layer). ``b_o`` starts at the mean log-power of the data when the model is
    initialised from data (:meth:`SpeechVAE.initialize_from_data`).
    """

    def __init__(
        self, latent_dim: int, hidden_dim: int, n_freq: int, visual_hidden_dim: int | None = None
    ) -> None:
        super().__init__()
        self.latent = nn.Linear(latent_dim, hidden_dim)
        self.visual = (
            nn.Linear(visual_hidden_dim, hidden_dim, bias=False) if visual_hidden_dim else None
        )
        self.output = nn.Linear(hidden_dim, n_freq)

    def forward(self, z: torch.Tensor, visual_features: torch.Tensor | None = None) -> torch.Tensor:
        pre = self.latent(z)
        if self.visual is not None:
            if visual_features is None:
                raise ConfigError("this decoder is conditioned on the lips: pass lips")
            pre = pre + self.visual(visual_features)
        return self.output(torch.tanh(pre))


class VisualPrior(nn.Module):
    """p(z_t | v_t) = N(mu(v_t), diag sigma2(v_t)): ``phi(v) -> hidden tanh -> Gaussian``
    (the AV-CVAE prior network of Sadeghi et al. 2020)."""

    def __init__(self, visual_hidden_dim: int, hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(visual_hidden_dim, hidden_dim), nn.Tanh())
        self.head = GaussianHead(hidden_dim, latent_dim)

    def forward(self, visual_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.hidden(visual_features))
