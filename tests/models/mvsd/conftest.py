"""Small paired, unpaired and validation sets for the MVSD tests (synthetic, built in
milliseconds): noise bursts with pauses as "speech", two rooms given by decaying-noise impulse
responses (direct path at sample 0, unit gain), and two flat-colour "pictures"."""

from __future__ import annotations

import pytest
import torch

TAIL_SECONDS = 0.25


def bursts(n: int, gen: torch.Generator) -> torch.Tensor:
    """Hann-windowed noise bursts (50-200 ms) separated by 100-400 ms pauses."""
    x = torch.zeros(n)
    pos = 0
    while pos < n:
        length = int(torch.randint(800, 3200, (1,), generator=gen))
        gap = int(torch.randint(1600, 6400, (1,), generator=gen))
        seg = torch.randn(length, generator=gen) * 0.1 * torch.hann_window(length)
        end = min(n, pos + length)
        x[pos:end] = seg[: end - pos]
        pos += length + gap
    return x


def decaying_rir(rt60: float, n: int, gen: torch.Generator) -> torch.Tensor:
    """Exponentially decaying noise (60 dB in ``rt60`` s) after a unit direct path."""
    t = torch.arange(n) / 16000.0
    h = 0.1 * torch.randn(n, generator=gen) * 10.0 ** (-3.0 * t / rt60)
    h[0] = 1.0
    return h


def convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Causal convolution cut to ``x``'s length."""
    y = torch.nn.functional.conv1d(
        torch.nn.functional.pad(x, (h.numel() - 1, 0))[None, None], h.flip(0)[None, None]
    )
    return y[0, 0]


@pytest.fixture(scope="session")
def mvsd_data():
    """``paired``, ``unpaired_reverberant`` (no clean key), ``unpaired_clean`` (no picture),
    ``val``: 1-s items in two rooms (RT60 0.2 and 0.8 s), dry padded by the tail."""
    gen = torch.Generator().manual_seed(0)
    tail = round(TAIL_SECONDS * 16000)
    rirs = [decaying_rir(0.2, 4000, gen), decaying_rir(0.8, 4000, gen)]
    pictures = [torch.full((3, 128, 128), 0.2), torch.full((3, 128, 128), 0.8)]

    def item(k: int) -> dict[str, torch.Tensor]:
        clean = torch.nn.functional.pad(bursts(16000, gen), (0, tail))
        return {
            "clean": clean,
            "reverberant": convolve(clean, rirs[k % 2]),
            "picture": pictures[k % 2],
        }

    paired = [item(k) for k in range(4)]
    unpaired_reverberant = [
        {"reverberant": it["reverberant"], "picture": it["picture"]}
        for it in (item(k) for k in range(2))
    ]
    unpaired_clean = [{"clean": bursts(12000, gen)} for _ in range(2)]
    val = [item(k) for k in range(2)]
    return {
        "paired": paired,
        "unpaired_reverberant": unpaired_reverberant,
        "unpaired_clean": unpaired_clean,
        "val": val,
        "pictures": pictures,
    }
