"""Synthetic soundscape items for the stylizer tests (built in milliseconds): noise-burst
"speech", two "rooms" given by exponential-decay impulse responses (RT60 0.1 s and 0.9 s) and
coloured-noise ambiences (low-passed and high-passed), one flat-colour picture per room. The
audio example of an item is another clip of the same room (same impulse response, same
ambience)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

ROOM_RT60 = (0.1, 0.9)
PICTURE_LEVEL = (0.15, 0.85)
AMBIENCE_LEVEL = 0.003
CONTENT_NOISE = 1e-3


def bursts(n: int, gen: torch.Generator) -> torch.Tensor:
    """Hann-windowed noise bursts (50-200 ms) separated by 150-400 ms pauses."""
    x = torch.zeros(n)
    pos = int(torch.randint(0, 1600, (1,), generator=gen))
    while pos < n:
        length = int(torch.randint(800, 3200, (1,), generator=gen))
        gap = int(torch.randint(2400, 6400, (1,), generator=gen))
        seg = torch.randn(length, generator=gen) * 0.1 * torch.hann_window(length)
        end = min(n, pos + length)
        x[pos:end] = seg[: end - pos]
        pos += length + gap
    return x


def decaying_rir(rt60: float, gen: torch.Generator, n: int = 16000) -> torch.Tensor:
    """Exponentially decaying noise (60 dB in ``rt60`` s) after a unit direct path."""
    t = torch.arange(n) / 16000.0
    h = 0.15 * torch.randn(n, generator=gen) * 10.0 ** (-3.0 * t / rt60)
    h[0] = 1.0
    return h


def convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Causal convolution cut to ``x``'s length (by FFT)."""
    n = x.numel() + h.numel()
    y = torch.fft.irfft(torch.fft.rfft(x, n) * torch.fft.rfft(h, n), n)
    return y[: x.numel()]


def ambience(room: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Coloured noise: room 0 low-passed (a running mean), room 1 high-passed (a difference)."""
    w = torch.randn(n + 8, generator=gen)
    col = w.unfold(0, 8, 1).mean(1)[:n] if room == 0 else (w[1:] - w[:-1])[:n] / 2
    return AMBIENCE_LEVEL * col / col.std()


@dataclass
class Item:
    content: torch.Tensor
    target: torch.Tensor
    example: torch.Tensor
    picture: torch.Tensor
    room: int


def make_item(room: int, n: int, gen: torch.Generator, rirs) -> Item:
    dry = bursts(n, gen)
    other = bursts(n, gen)
    return Item(
        content=dry + CONTENT_NOISE * torch.randn(n, generator=gen),
        target=convolve(dry, rirs[room]) + ambience(room, n, gen),
        example=convolve(other, rirs[room]) + ambience(room, n, gen),
        picture=torch.full((3, 128, 128), PICTURE_LEVEL[room]),
        room=room,
    )


def make_items(count: int, seconds: float, seed: int) -> list[Item]:
    gen = torch.Generator().manual_seed(seed)
    rirs = [
        decaying_rir(rt, torch.Generator().manual_seed(100 + k)) for k, rt in enumerate(ROOM_RT60)
    ]
    n = round(seconds * 16000)
    return [make_item(k % 2, n, gen, rirs) for k in range(count)]


@pytest.fixture(scope="session")
def stylizer_items():
    """``(train, val)``: 16 and 4 items of 2 s, alternating rooms."""
    return make_items(16, 2.0, seed=0), make_items(4, 2.0, seed=1)


def gap_energy_db(wav: torch.Tensor, dry: torch.Tensor) -> float:
    """A reverberation proxy: the energy of ``wav`` in the frames where the dry speech is
    silent (more than 40 dB below its loudest 32-ms frame) over its energy in the other frames,
    in dB. A longer decay fills the pauses: the proxy rises with RT60."""
    frames = lambda x: x[: x.numel() // 512 * 512].reshape(-1, 512).square().mean(1)  # noqa: E731
    e_dry, e = frames(dry), frames(wav)
    gaps = e_dry < e_dry.max() * 1e-4
    assert gaps.any() and not gaps.all()
    return float(10 * torch.log10(e[gaps].mean() / e[~gaps].mean()))
