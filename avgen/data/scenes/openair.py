"""Acoustics of the drawn scenes: open-air responses, and the train carriage's room.

**Open air** (:func:`open_air_rir`): a talker at horizontal distance ``d`` from the microphone,
mouth at ``h_s``, microphone at ``h_m``. The response keeps the conventions of
:mod:`avgen.data.rooms.acoustics` (direct path at sample 0 with unit gain) and adds the ground
reflection of the image source below the ground (Lord Rayleigh's two-ray model): path
``r_g = sqrt(d^2 + (h_s + h_m)^2)`` against ``r_0 = sqrt(d^2 + (h_s - h_m)^2)``, delay
``(r_g - r_0) f_s / c`` samples (rounded to the nearest sample), gain ``R r_0 / r_g`` with the
ground's reflection coefficient ``R`` (asphalt 0.9, paving 0.8, sand 0.6, wet ground 0.85,
forest floor 0.4). Streets and markets add one facade (or stall) echo at a wall ``w`` metres
behind the talker: extra path ``2 w``, gain ``R_w r_0 / (r_0 + 2 w)``. No late reverberation:
the scene is open. Deterministic in its arguments.

**Train carriage** (:func:`carriage_spec`): a shoebox of a carriage (length 14-20 m, width
2.7-3.0 m, height 2.1-2.4 m) with glass side walls, fabric-covered ends, linoleum floor and a
metal ceiling, simulated by :func:`avgen.data.rooms.acoustics.simulate_rir` like any room.
"""

from __future__ import annotations

import math

import numpy as np

from avgen.audio import SAMPLE_RATE
from avgen.data.rooms.spec import SPEED_OF_SOUND, RoomSpec, _sample_positions
from avgen.errors import ConfigError
from avgen.seeding import numpy_generator

GROUND_REFLECTION: dict[str, tuple[float, float]] = {
    "street": (0.85, 0.95),
    "market": (0.75, 0.85),
    "beach": (0.5, 0.7),
    "rain": (0.8, 0.9),
    "forest": (0.3, 0.5),
}
"""Range of the ground's pressure reflection coefficient per open-air kind."""

FACADE_KINDS: dict[str, tuple[float, float]] = {"street": (3.0, 10.0), "market": (2.0, 6.0)}
"""Kinds with one wall echo: range of the wall's distance behind the talker (metres)."""


def open_air_rir(
    distance: float,
    *,
    source_height: float = 1.6,
    mic_height: float = 1.4,
    ground: float = 0.8,
    wall_distance: float | None = None,
    wall: float = 0.5,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """The open-air response (module docstring), float32, direct path at sample 0."""
    if not (distance > 0 and source_height > 0 and mic_height > 0):
        raise ConfigError("open air needs a positive distance and heights")
    if not (0.0 <= ground <= 1.0 and 0.0 <= wall <= 1.0):
        raise ConfigError("reflection coefficients must be in [0, 1]")
    r0 = math.hypot(distance, source_height - mic_height)
    taps = [(0.0, 1.0), (math.hypot(distance, source_height + mic_height) - r0, 0.0)]
    taps[1] = (taps[1][0], ground * r0 / (r0 + taps[1][0]))
    if wall_distance is not None:
        taps.append((2.0 * wall_distance, wall * r0 / (r0 + 2.0 * wall_distance)))
    delays = [round(extra / SPEED_OF_SOUND * sample_rate) for extra, _ in taps]
    h = np.zeros(max(delays) + 1, dtype=np.float64)
    for k, (_, gain) in zip(delays, taps):
        h[k] += gain
    return h.astype(np.float32)


def draw_open_air(kind: str, seed: int) -> tuple[np.ndarray, dict]:
    """The open-air response of a scene of ``kind`` with seeded geometry, and its parameters:
    distance ``U(1, 4)`` m, mouth ``U(1.4, 1.8)`` m, microphone ``U(1.0, 1.6)`` m, ground
    coefficient from :data:`GROUND_REFLECTION`, wall from :data:`FACADE_KINDS` (``R_w ~ U(0.3,
    0.6)``)."""
    if kind not in GROUND_REFLECTION:
        raise ConfigError(f"{kind!r} is not an open-air scene kind")
    rng = numpy_generator(seed)
    params = {
        "distance": float(rng.uniform(1.0, 4.0)),
        "source_height": float(rng.uniform(1.4, 1.8)),
        "mic_height": float(rng.uniform(1.0, 1.6)),
        "ground": float(rng.uniform(*GROUND_REFLECTION[kind])),
    }
    if kind in FACADE_KINDS:
        params["wall_distance"] = float(rng.uniform(*FACADE_KINDS[kind]))
        params["wall"] = float(rng.uniform(0.3, 0.6))
    return open_air_rir(**params), params


def carriage_spec(seed: int, *, ray_tracing: bool = True) -> RoomSpec:
    """A train carriage as a shoebox (module docstring), seeded."""
    rng = numpy_generator(seed)
    dims = (
        float(rng.uniform(14.0, 20.0)),
        float(rng.uniform(2.7, 3.0)),
        float(rng.uniform(2.1, 2.4)),
    )
    materials = {
        "west": "panel_fabric_covered_8pcf",
        "east": "panel_fabric_covered_8pcf",
        "south": "glass_window",
        "north": "glass_window",
        "floor": "linoleum_on_concrete",
        "ceiling": "ceiling_metal_panel",
    }
    positions = _sample_positions(rng, dims, 1.0, 4.0, 0.5)
    if positions is None:  # pragma: no cover - the carriage is long enough
        raise ConfigError("no placement in the carriage")
    source, mic = positions
    source = (source[0], source[1], min(source[2], dims[2] - 0.3))
    return RoomSpec(
        dims,
        materials,
        source,
        mic,
        ray_tracing=ray_tracing,
        seed=int(rng.integers(0, 2**31 - 1)),
    )
