"""Seeded degradations of mouth-region videos: blur, low resolution, occlusion, sensor noise,
dropped frames.

Real lip videos are blurred, compressed, occluded by hands and microphones, lose frames. A
model trained on clean renders should meet these at test time; :func:`degrade_lips` applies
them to any uint8 video ``(N, H, W)`` (rendered or loaded) in a fixed order: blur ->
down-up-sampling -> occlusion -> noise -> dropped frames, and returns which frames were dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from avgen.data.lips.render import single_intra_op_thread
from avgen.errors import ConfigError, VideoError
from avgen.seeding import derive_seed, numpy_generator, torch_generator


@dataclass(frozen=True)
class LipDegradations:
    """Which degradations to apply, and how strongly (all off by default).

    Attributes:
        blur_sigma: Gaussian blur standard deviation in pixels.
        low_res: downsample to ``low_res x low_res`` (area) and back up (bilinear).
        occlusion: fraction of the frames, one contiguous span, during which a blob (a hand, a
            microphone) crosses the mouth; 0 = never.
        noise_std: additive Gaussian sensor noise, in grey levels (0-255 scale).
        drop_rate: probability that a frame is dropped.
        drop_mode: a dropped frame repeats the previous delivered frame (``"repeat"``; a drop
            at the start gives zeros) or is zeros (``"zero"``).
    """

    blur_sigma: float = 0.0
    low_res: int | None = None
    occlusion: float = 0.0
    noise_std: float = 0.0
    drop_rate: float = 0.0
    drop_mode: Literal["repeat", "zero"] = "repeat"

    def __post_init__(self) -> None:
        if not (self.blur_sigma >= 0 and self.noise_std >= 0):
            raise ConfigError("blur_sigma and noise_std must be >= 0")
        if not (0 <= self.occlusion <= 1 and 0 <= self.drop_rate <= 1):
            raise ConfigError("occlusion and drop_rate are fractions in [0, 1]")
        if self.low_res is not None and self.low_res < 2:
            raise ConfigError("low_res must be at least 2 pixels")
        if self.drop_mode not in ("repeat", "zero"):
            raise ConfigError(f"drop_mode must be 'repeat' or 'zero', not {self.drop_mode!r}")

    @classmethod
    def preset(cls, level: str) -> LipDegradations:
        """``"none"``, ``"mild"``, ``"moderate"`` or ``"severe"``."""
        presets = {
            "none": cls(),
            "mild": cls(blur_sigma=0.7, noise_std=3.0, drop_rate=0.03),
            "moderate": cls(
                blur_sigma=1.2, low_res=24, occlusion=0.25, noise_std=6.0, drop_rate=0.08
            ),
            "severe": cls(
                blur_sigma=2.0,
                low_res=16,
                occlusion=0.5,
                noise_std=12.0,
                drop_rate=0.2,
                drop_mode="zero",
            ),
        }
        if level not in presets:
            raise ConfigError(
                f"unknown degradation level {level!r}; choose from {', '.join(presets)}"
            )
        return presets[level]

    @property
    def active(self) -> bool:
        return bool(
            self.blur_sigma or self.low_res or self.occlusion or self.noise_std or self.drop_rate
        )


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, H, W)`` frames (reflect padding, radius 3 sigma)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    k = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (k / sigma) ** 2)
    k = k / k.sum()
    y = x[:, None]
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
    return y[:, 0]


def down_up(x: torch.Tensor, low: int) -> torch.Tensor:
    """Area-downsample to ``low x low`` and bilinearly upsample back."""
    h, w = x.shape[-2:]
    small = F.interpolate(x[:, None], size=(low, low), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[:, 0]


def occlude(x: torch.Tensor, fraction: float, rng: np.random.Generator) -> torch.Tensor:
    """A soft-edged elliptical blob of random tone crossing the frame during one contiguous
    span of ``round(fraction * N)`` frames."""
    n, h, w = x.shape
    span = round(fraction * n)
    if span == 0:
        return x
    first = int(rng.integers(0, n - span + 1))
    coords_y = (torch.arange(h, dtype=x.dtype, device=x.device) + 0.5) / h * 2 - 1
    coords_x = (torch.arange(w, dtype=x.dtype, device=x.device) + 0.5) / w * 2 - 1
    gy, gx = torch.meshgrid(coords_y, coords_x, indexing="ij")
    start = rng.uniform(-1.2, 1.2, 2)
    stop = rng.uniform(-0.6, 0.6, 2)
    radius = rng.uniform(0.35, 0.7, 2)
    tone = float(rng.uniform(0.1, 0.9))
    steps = torch.linspace(0, 1, span, dtype=x.dtype, device=x.device)[:, None, None]
    cx = float(start[0]) + (float(stop[0]) - float(start[0])) * steps
    cy = float(start[1]) + (float(stop[1]) - float(start[1])) * steps
    r = torch.sqrt(((gx - cx) / float(radius[0])) ** 2 + ((gy - cy) / float(radius[1])) ** 2)
    cover = torch.sigmoid((1 - r) / 0.04)
    out = x.clone()
    out[first : first + span] = x[first : first + span] * (1 - cover) + tone * cover
    return out


def drop_frames(
    x: torch.Tensor, rate: float, mode: str, rng: np.random.Generator
) -> tuple[torch.Tensor, np.ndarray]:
    """Drop each frame with probability ``rate``; returns frames and the boolean drop mask."""
    n = x.shape[0]
    dropped = rng.random(n) < rate
    if not dropped.any():
        return x, dropped
    if mode == "zero":
        keep = torch.as_tensor(~dropped, device=x.device)
        return x * keep[:, None, None].to(x.dtype), dropped
    # repeat: each frame shows the latest delivered frame (zeros before the first one)
    idx = np.where(~dropped, np.arange(n), -1)
    idx = np.maximum.accumulate(idx)
    padded = torch.cat([torch.zeros_like(x[:1]), x])
    return padded[torch.as_tensor(idx + 1, device=x.device)], dropped


def degrade_lips(
    frames: np.ndarray, degradations: LipDegradations, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``degradations`` to uint8 frames ``(N, H, W)``.

    Returns ``(degraded uint8 frames, dropped)`` where ``dropped`` is a boolean ``(N,)`` mask
    of frames that do not show the current instant. Same seed, same result.
    """
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[0] == 0:
        raise VideoError(
            f"degrade_lips expects uint8 frames (N, H, W), got {arr.dtype} {arr.shape}"
        )
    if not degradations.active:
        return arr.copy(), np.zeros(arr.shape[0], dtype=bool)
    with single_intra_op_thread(torch.device("cpu")):
        return _degrade(arr, degradations, seed)


def _degrade(
    arr: np.ndarray, degradations: LipDegradations, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = numpy_generator(derive_seed(seed, "lips-degrade"))
    dropped = np.zeros(arr.shape[0], dtype=bool)
    x = torch.from_numpy(arr.astype(np.float32) / 255.0)
    if degradations.blur_sigma > 0:
        x = gaussian_blur(x, degradations.blur_sigma)
    if degradations.low_res:
        x = down_up(x, degradations.low_res)
    if degradations.occlusion > 0:
        x = occlude(x, degradations.occlusion, rng)
    if degradations.noise_std > 0:
        gen = torch_generator(derive_seed(seed, "lips-noise"))
        x = x + degradations.noise_std / 255.0 * torch.randn(x.shape, generator=gen)
    if degradations.drop_rate > 0:
        x, dropped = drop_frames(x, degradations.drop_rate, degradations.drop_mode, rng)
    out = (x.clamp(0, 1) * 255.0 + 0.5).floor().to(torch.uint8).numpy()
    return out, dropped
