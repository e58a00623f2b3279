"""What unsupervised enhancement (:mod:`avgen.pipelines.vae_nmf`) asks of an audio-only temporal
prior, answered once for the DKF and the RVAE (the per-frame priors' ``SpeechVAE`` answers the
same questions for itself).

A temporal prior has no lips; its test-time chains start at the guide's mean path on the noisy
power (``"audio"``, Bie et al. 2022 start from their encoder) or at the prior's mean path
(``"prior"``); and it brings its own EM problem (``noisy_problem``), because its latent frames
are not independent given the observation. The class that mixes this in defines ``name``,
``schemes`` (the named E-steps that are valid for it), ``encode_path``, ``prior_path`` and
``noisy_problem``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from avgen.errors import ConfigError

Gaussian = tuple[torch.Tensor, torch.Tensor]
LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density_of_draw(eps: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``log N(z; m, diag s^2)`` summed over the last axis for the reparameterised draw ``z = m +
    s eps``: ``-(1/2) sum eps^2 - sum log s - (L/2) log 2 pi`` (no distribution object built in
    the guides' per-frame loops)."""
    return -0.5 * eps.square().sum(-1) - scale.log().sum(-1) - 0.5 * eps.shape[-1] * LOG_2PI


class GuideDraws(nn.Module):
    """``(power, eps) -> (z, log q per frame)``: a temporal prior's reparameterised guide
    (``guide_rsample``) as the module whose weights
    :class:`inference.vem.StructuredVariationalEStep` fine-tunes (functionally: the prior
    itself never changes)."""

    structured: ClassVar[bool] = True  # a guide over the whole trajectory, not per frame

    def __init__(self, prior: nn.Module) -> None:
        super().__init__()
        self.prior = prior

    def forward(self, power: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # the prior is in eval mode and fine-tuning differentiates through its GRUs: cuDNN's
        # RNN backward refuses eval mode, the native kernels do not
        with torch.backends.cudnn.flags(enabled=False):
            return self.prior.guide_rsample(power, eps)


class TemporalPriorHooks:
    """The pipeline's questions about lips and starts, for an audio-only temporal prior."""

    name: ClassVar[str]
    uses_lips: ClassVar[bool] = False
    inits: ClassVar[tuple[str, ...]] = ("audio", "prior")
    default_init: ClassVar[str] = "audio"

    def _batch(self, power: torch.Tensor) -> torch.Tensor:
        """``(T, F)`` or ``(B, T, F)`` power as a batch ``(B, T, F)`` (:class:`ConfigError` for
        another shape)."""
        n_freq = self.config.n_freq  # type: ignore[attr-defined]
        if power.ndim not in (2, 3) or power.shape[-1] != n_freq:
            raise ConfigError(
                f"{self.name}: power must be frames-major (T, {n_freq}) or a batch "
                f"(B, T, {n_freq}), got {tuple(power.shape)}"
            )
        return power if power.ndim == 3 else power.unsqueeze(0)

    def check_lips(self, lips: torch.Tensor | None, n_frames: int) -> None:
        """An audio-only prior: the lips play no part."""
        return None

    def visual_context(self, lips: torch.Tensor | None) -> None:
        return None

    def prior_correction(self, visual_context: torch.Tensor | None) -> None:
        """Unused: the temporal prior enters through its own ``noisy_problem``."""
        return None

    def visual_weight(self, power: torch.Tensor, lips: torch.Tensor | None) -> None:
        return None

    def vem_encoder(self, power: torch.Tensor, lips: torch.Tensor | None, init: str) -> nn.Module:
        """What variational EM fine-tunes: the guide, over the whole trajectory
        (:class:`GuideDraws`; Bie et al. 2022's VEM fine-tunes their encoder at test time). It
        starts from the guide, so only the ``"audio"`` start applies."""
        if init != "audio":
            raise ConfigError(
                f"variational EM fine-tunes {self.name}'s guide: use --init audio, not {init}"
            )
        return GuideDraws(self)  # type: ignore[arg-type]

    def encode_path(self, power: torch.Tensor) -> Gaussian:
        raise NotImplementedError

    def prior_path(self, n_frames: int) -> Gaussian:
        raise NotImplementedError

    def start_distribution(
        self,
        power: torch.Tensor,
        lips: torch.Tensor | None,
        init: str,
        *,
        visual_weight: torch.Tensor | None = None,
    ) -> Gaussian:
        """``(loc, scale)`` ``(T, L)`` where test-time chains start (at ``loc``): ``"audio"``
        the guide's mean path on the (noisy) power, ``"prior"`` the prior's mean path."""
        if init not in self.inits:
            raise ConfigError(
                f"{self.name} cannot start its chains from {init!r}: choose one of "
                f"{', '.join(self.inits)}"
            )
        if init == "prior":
            return self.prior_path(power.shape[-2])
        return self.encode_path(power)
