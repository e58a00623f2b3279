"""The diffusion prior's checkpoint format: writing its configuration, loading the denoiser,
the bundled prior, exporting a prior for shipping, and reading a training checkpoint to resume.

A checkpoint (:mod:`avgen.checkpoint`, model ``"diffusion-prior"``) holds in ``config`` the size,
the U-Net configuration, ``sigma_data``, the noise-level distribution (``p_mean``, ``p_std``),
the STFT convention and the training configuration; in ``state_dict`` the EMA weights of the
U-Net; in ``extra`` the raw weights, the optimiser and scaler states, the step and the loss
history, for resuming (:func:`export_prior` drops those).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from avgen.audio import DIFFUSION_STFT
from avgen.checkpoint import Checkpoint, load_checkpoint, load_weights, save_checkpoint
from avgen.errors import CheckpointError, ConfigError
from avgen.models.diffusion.configs import DiffusionTrainConfig, UNetConfig
from avgen.models.diffusion.unet import UNet
from inference.diffusion.precond import EDMDenoiser

MODEL_NAME = "diffusion-prior"
"""The ``model`` entry of diffusion-prior checkpoints."""


def stft_dict() -> dict[str, Any]:
    """The STFT convention a prior is trained on (:data:`avgen.audio.DIFFUSION_STFT`)."""
    s = DIFFUSION_STFT
    return {
        "n_fft": s.n_fft,
        "hop_length": s.hop_length,
        "window": s.window,
        "compression_exponent": s.compression_exponent,
        "compression_scale": s.compression_scale,
    }


def checkpoint_config(
    config: DiffusionTrainConfig,
    net_config: UNetConfig,
    sigma_data: float,
    p_mean: float,
    seed: int,
) -> dict[str, Any]:
    """The ``config`` entry of a checkpoint written by training."""
    return {
        "size": config.size,
        "unet": net_config.to_dict(),
        "sigma_data": sigma_data,
        "p_mean": p_mean,
        "p_std": config.p_std,
        "stft": stft_dict(),
        "train": config.to_dict(),
        "seed": int(seed),
    }


def check_stft(ckpt_config: Mapping[str, Any], path: Path) -> None:
    """:class:`CheckpointError` if the prior was trained on another STFT convention."""
    stft_cfg = ckpt_config.get("stft")
    if stft_cfg is not None and dict(stft_cfg) != stft_dict():
        raise CheckpointError(
            f"{path}: the prior was trained on another STFT convention "
            f"({stft_cfg}) than this library's DIFFUSION_STFT"
        )


def load_diffusion_prior(
    path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> EDMDenoiser:
    """The EMA denoiser of a diffusion-prior checkpoint, in eval mode with frozen weights.

    ``path=None`` loads the small prior bundled with the package (:func:`bundled_prior_path`).
    The returned module has attributes ``unet_config`` and ``checkpoint_config``.
    """
    p = bundled_prior_path() if path is None else Path(path)
    ckpt = load_checkpoint(p, expected_model=MODEL_NAME, map_location="cpu")
    check_stft(ckpt.config, p)
    try:
        net_config = UNetConfig.from_dict(ckpt.config["unet"])
        sigma_data = float(ckpt.config["sigma_data"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(
            f"{p}: diffusion-prior checkpoint without a valid network configuration ({exc})"
        ) from None
    net = load_weights(UNet(net_config), ckpt.state_dict, p)
    denoiser = EDMDenoiser(net, sigma_data=sigma_data).to(device).eval().requires_grad_(False)
    denoiser.unet_config = net_config  # type: ignore[attr-defined]
    denoiser.checkpoint_config = ckpt.config  # type: ignore[attr-defined]
    return denoiser


def bundled_prior_path() -> Path:
    """Path of the small diffusion prior shipped in the package (``avgen/assets/diffusion``)."""
    from importlib.resources import files

    path = Path(str(files("avgen") / "assets" / "diffusion" / "prior-small.pt"))
    if not path.is_file():
        raise CheckpointError(
            f"{path}: the bundled diffusion prior is missing (a broken "
            "installation?); train one with `avgen train --model "
            "diffusion-prior --size small --data DIR --out FILE`"
        )
    return path


def export_prior(checkpoint: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Write a copy of a training checkpoint without its resume state (raw weights, optimiser):
    the EMA weights, configuration and a summary of the history only (for shipping)."""
    ckpt = load_checkpoint(checkpoint, expected_model=MODEL_NAME)
    extra = {k: ckpt.extra[k] for k in ("step", "validation", "seconds") if k in ckpt.extra}
    return save_checkpoint(
        dest,
        model=MODEL_NAME,
        config=ckpt.config,
        state_dict=ckpt.state_dict,
        data_manifest_hash=ckpt.data_manifest_hash,
        extra=extra,
    )


def resume_checkpoint(
    resume: str | os.PathLike[str], config: DiffusionTrainConfig, net_config: UNetConfig
) -> Checkpoint:
    """A training checkpoint to continue from, checked against this run's network and
    ``sigma_data`` (:class:`CheckpointError` saying why it cannot be resumed)."""
    ckpt = load_checkpoint(resume, expected_model=MODEL_NAME)
    check_stft(ckpt.config, Path(resume))
    if "raw_state_dict" not in ckpt.extra or "optimizer" not in ckpt.extra:
        raise CheckpointError(
            f"{resume}: holds no training state to resume from (an exported "
            "prior?); resume from a checkpoint written during training"
        )
    stored = UNetConfig.from_dict(ckpt.config["unet"])
    if stored != net_config:
        raise CheckpointError(
            f"{resume}: was trained with another network configuration "
            f"({ckpt.config.get('size')}); resume with the same --size"
        )
    if config.sigma_data is not None and abs(config.sigma_data - ckpt.config["sigma_data"]) > 1e-12:
        raise CheckpointError(
            f"{resume}: was trained with sigma_data="
            f"{ckpt.config['sigma_data']}, not {config.sigma_data}"
        )
    return ckpt
