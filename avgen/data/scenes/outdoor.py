"""Procedural pictures of the outdoor scenes (and a train carriage) whose look follows their sound.

:func:`render_outdoor` draws a ``(size, size, 3)`` uint8 picture of a scene kind, seeded:

* ``street`` -- pale sky, grey/beige buildings with window grids, grey asphalt with lane dashes
  and a kerb: the city/traffic ambience;
* ``rain`` -- dark low sky, dark wet ground with light puddles, light diagonal streaks over all:
  the thunder ambience;
* ``beach`` -- sky, sea and sand bands (blue, teal, sand) with wave lines: water and wind;
* ``forest`` -- dark and light green canopy blobs, brown trunks, green-brown ground: wind or
  night insects;
* ``train`` -- a carriage interior: cream walls and ceiling with lamp strips, a row of windows
  (sky or fields outside), blue fabric seats, a dark floor: machinery;
* ``market`` -- sky, stalls with striped coloured awnings, counters with produce, paving: babble.

Every choice (band heights, colours within a kind's palette, object counts and positions,
brightness) is drawn from the generator, so pictures of one kind vary between videos while
the kind stays recognisable by its colours. A pure function of ``(kind, size, seed)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from avgen.errors import ConfigError
from avgen.seeding import numpy_generator


def _rgb(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64) / 255.0


def _smooth(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1): a ``cells`` x ``cells`` random grid, bilinearly upsampled."""
    grid = rng.random((cells + 1, cells + 1))
    t = np.linspace(0.0, cells, size, endpoint=False)
    i = np.floor(t).astype(int)
    f = t - i
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def _jitter(rng: np.random.Generator, color: np.ndarray, amount: float = 0.06) -> np.ndarray:
    return np.clip(color + rng.uniform(-amount, amount, 3), 0.0, 1.0)


def _fill(img: np.ndarray, mask: np.ndarray, color: np.ndarray, texture: np.ndarray | None = None):
    shade = 1.0 if texture is None else texture[mask][:, None]
    img[mask] = color[None, :] * shade


def _sky(img, rng, yy, horizon, top, bottom):
    t = np.clip(yy / max(horizon, 1.0), 0.0, 1.0)[..., None]
    sky = top[None, None, :] * (1 - t) + bottom[None, None, :] * t
    mask = yy < horizon
    img[mask] = sky[mask]


def _street(img, rng, yy, xx, size):
    horizon = size * rng.uniform(0.5, 0.6)
    _sky(
        img, rng, yy, horizon, _jitter(rng, _rgb(170, 190, 210)), _jitter(rng, _rgb(205, 212, 218))
    )
    x = 0
    while x < size:  # buildings
        w = int(rng.integers(size // 8, size // 3))
        top = size * rng.uniform(0.05, 0.35)
        color = _jitter(
            rng,
            [_rgb(128, 128, 130), _rgb(176, 166, 150), _rgb(150, 146, 140)][int(rng.integers(3))],
        )
        body = (xx >= x) & (xx < x + w) & (yy >= top) & (yy < horizon)
        _fill(img, body, color)
        win = (
            body & ((xx - x) % 8 >= 3) & ((yy.astype(int) - int(top)) % 10 >= 4) & (xx < x + w - 2)
        )
        _fill(img, win, color * 0.55)
        x += w + int(rng.integers(0, 3))
    kerb = horizon + size * 0.05
    _fill(img, (yy >= horizon) & (yy < kerb), _jitter(rng, _rgb(165, 163, 158)))
    tex = 0.9 + 0.15 * _smooth(rng, size, 16)
    _fill(img, yy >= kerb, _jitter(rng, _rgb(58, 58, 62), 0.02), tex)
    centre = size / 2 + rng.uniform(-size / 8, size / 8)
    depth = (yy - kerb) / max(size - kerb, 1.0)
    dash = (
        (yy >= kerb) & (np.abs(xx - centre) < 0.5 + 2.0 * depth) & ((yy.astype(int) // 6) % 2 == 0)
    )
    _fill(img, dash, _rgb(235, 235, 225))


def _rain(img, rng, yy, xx, size):
    horizon = size * rng.uniform(0.45, 0.6)
    tex = 0.85 + 0.3 * _smooth(rng, size, 6)
    _fill(img, yy < horizon, _jitter(rng, _rgb(62, 68, 80), 0.03), tex)
    ground = _jitter(rng, _rgb(44, 48, 52), 0.02)
    _fill(img, yy >= horizon, ground, 0.9 + 0.2 * _smooth(rng, size, 12))
    puddles = (yy >= horizon) & (_smooth(rng, size, 8) > 0.72)
    _fill(img, puddles, _rgb(96, 104, 118))
    slope = rng.uniform(0.2, 0.45)
    period = int(rng.integers(5, 9))
    phase = (xx + slope * yy + rng.integers(0, period)) % period
    streak = (phase < 0.9) & (((yy + 7 * np.floor((xx + slope * yy) / period)) % 14) < 8)
    img[streak] = img[streak] * 0.4 + _rgb(190, 196, 205) * 0.6


def _beach(img, rng, yy, xx, size):
    sea_top = size * rng.uniform(0.3, 0.45)
    sand_top = sea_top + size * rng.uniform(0.15, 0.3)
    _sky(img, rng, yy, sea_top, _jitter(rng, _rgb(90, 150, 215)), _jitter(rng, _rgb(175, 210, 235)))
    sea = (yy >= sea_top) & (yy < sand_top)
    _fill(img, sea, _jitter(rng, _rgb(30, 110, 150)), 0.9 + 0.2 * _smooth(rng, size, 10))
    waves = sea & (np.sin(xx * 0.35 + yy * 1.7 + rng.uniform(0, 6)) > 0.93)
    _fill(img, waves, _rgb(200, 228, 235))
    foam = (yy >= sand_top) & (yy < sand_top + 2 + 2 * np.sin(xx * 0.2))
    _fill(img, foam, _rgb(235, 240, 238))
    sand = yy >= sand_top + 2 + 2 * np.sin(xx * 0.2)
    _fill(img, sand, _jitter(rng, _rgb(222, 200, 150), 0.04), 0.88 + 0.2 * _smooth(rng, size, 24))


def _forest(img, rng, yy, xx, size):
    ground_top = size * rng.uniform(0.7, 0.82)
    _fill(
        img,
        yy < ground_top,
        _jitter(rng, _rgb(40, 80, 40), 0.03),
        0.7 + 0.6 * _smooth(rng, size, 10),
    )
    sky = (yy < size * 0.3) & (_smooth(rng, size, 6) > 0.78)
    _fill(img, sky, _rgb(200, 220, 200))
    for _ in range(int(rng.integers(5, 10))):  # trunks
        x0 = rng.uniform(0, size)
        w = rng.uniform(2, 7)
        trunk = (
            (np.abs(xx - x0) < w / 2) & (yy > size * rng.uniform(0.1, 0.4)) & (yy < ground_top + 4)
        )
        _fill(img, trunk, _jitter(rng, _rgb(90, 62, 38), 0.04))
    leaves = (yy < ground_top * 0.6) & (_smooth(rng, size, 14) > 0.55)
    _fill(img, leaves, _jitter(rng, _rgb(60, 120, 50), 0.04), 0.8 + 0.3 * _smooth(rng, size, 30))
    ground = yy >= ground_top
    _fill(img, ground, _jitter(rng, _rgb(70, 88, 44), 0.04), 0.8 + 0.35 * _smooth(rng, size, 20))


def _train(img, rng, yy, xx, size):
    wall = _jitter(rng, _rgb(226, 204, 150), 0.03)  # cream panels
    _fill(img, yy < size, wall)
    ceiling = yy < size * 0.15
    _fill(img, ceiling, wall * 1.05)
    lamps = ceiling & (yy > size * 0.06) & (yy < size * 0.09) & ((xx // 16) % 2 == 0)
    _fill(img, lamps, _rgb(250, 250, 235))
    win_top, win_bottom = size * rng.uniform(0.22, 0.3), size * rng.uniform(0.48, 0.56)
    outside = _jitter(rng, [_rgb(150, 185, 210), _rgb(130, 160, 120)][int(rng.integers(2))])
    width = int(rng.integers(22, 32))
    window = (yy > win_top) & (yy < win_bottom) & ((xx % width) > 4)
    _fill(img, window, outside, 0.85 + 0.3 * _smooth(rng, size, 6))
    seat = _jitter(rng, _rgb(40, 60, 140), 0.05)  # blue moquette
    seat_top = size * rng.uniform(0.55, 0.62)
    seats = (yy > seat_top) & (yy < size * 0.85) & (((xx + rng.integers(0, 20)) % 20) < 16)
    _fill(img, seats, seat, 0.85 + 0.2 * _smooth(rng, size, 30))
    _fill(img, yy >= size * 0.85, _jitter(rng, _rgb(60, 60, 64), 0.03))
    rail = np.abs(yy - size * 0.2) < 1.0
    _fill(img, rail, _rgb(150, 150, 155))


def _market(img, rng, yy, xx, size):
    horizon = size * rng.uniform(0.3, 0.4)
    _sky(
        img, rng, yy, horizon, _jitter(rng, _rgb(120, 170, 220)), _jitter(rng, _rgb(200, 220, 235))
    )
    _fill(
        img,
        yy >= horizon,
        _jitter(rng, _rgb(170, 160, 145), 0.04),
        0.85 + 0.2 * _smooth(rng, size, 20),
    )
    palette = [
        _rgb(210, 40, 40),
        _rgb(40, 150, 60),
        _rgb(240, 200, 40),
        _rgb(40, 90, 200),
        _rgb(230, 120, 30),
    ]
    x = int(rng.integers(-8, 0))
    while x < size:
        w = int(rng.integers(size // 5, size // 3))
        color = palette[int(rng.integers(len(palette)))]
        top = horizon + rng.uniform(-size * 0.1, size * 0.05)
        awning = (xx >= x) & (xx < x + w) & (yy >= top) & (yy < top + size * 0.12)
        stripes = ((xx - x) // 4) % 2 == 0
        _fill(img, awning & stripes, color)
        _fill(img, awning & ~stripes, _rgb(240, 238, 230))
        counter = (
            (xx >= x + 2) & (xx < x + w - 2) & (yy >= top + size * 0.3) & (yy < top + size * 0.45)
        )
        _fill(img, counter, _jitter(rng, _rgb(120, 80, 45), 0.04))
        produce = counter & (yy < top + size * 0.36) & (_smooth(rng, size, 40) > 0.5)
        _fill(img, produce, palette[int(rng.integers(len(palette)))])
        x += w + int(rng.integers(1, 5))


_PAINTERS: dict[str, Callable] = {
    "street": _street,
    "rain": _rain,
    "beach": _beach,
    "forest": _forest,
    "train": _train,
    "market": _market,
}

DRAWN_KINDS: tuple[str, ...] = tuple(_PAINTERS)
"""The kinds :func:`render_outdoor` draws."""


def render_outdoor(kind: str, size: int = 128, *, seed: int = 0) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 RGB picture of scene ``kind`` (module docstring), a pure
    function of ``(kind, size, seed)``; the overall brightness varies by ``U(0.9, 1.05)``."""
    if kind not in _PAINTERS:
        raise ConfigError(f"no drawing for scene kind {kind!r}; drawn: {', '.join(_PAINTERS)}")
    if size < 16:
        raise ConfigError(f"outdoor pictures need size >= 16, got {size}")
    rng = numpy_generator(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = np.zeros((size, size, 3))
    _PAINTERS[kind](img, rng, yy, xx, size)
    img = img * rng.uniform(0.9, 1.05)
    return np.round(np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)
