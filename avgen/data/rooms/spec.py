"""Shoebox rooms: what determines one (:class:`RoomSpec`), its materials and their looks, and
seeded sampling of speech-like rooms (:func:`sample_room`).

Each surface has one material of pyroomacoustics' database; :data:`MATERIAL_LOOKS` gives the
colour and texture :mod:`avgen.data.rooms.picture` paints it with, and
:mod:`avgen.data.rooms.acoustics` simulates the impulse response of the same specification.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from avgen.audio import SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.seeding import numpy_generator

SURFACES: tuple[str, ...] = ("west", "east", "south", "north", "floor", "ceiling")
"""Surfaces of a shoebox, named as pyroomacoustics does: west/east are the walls at x = 0 and
x = L, south/north at y = 0 and y = W, floor at z = 0, ceiling at z = H."""

SPEED_OF_SOUND = 343.0
"""Speed of sound in m/s (pyroomacoustics' default)."""


# ----------------------------------------------------------------------------------------------
# Materials and their looks
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaterialLook:
    """How a material is drawn: a base colour (RGB 0..255) and a procedural texture."""

    color: tuple[int, int, int]
    texture: Literal[
        "plain",
        "brick",
        "blocks",
        "concrete",
        "tiles",
        "planks",
        "carpet",
        "fabric",
        "glass",
        "panels",
        "ceiling_tiles",
    ]


MATERIAL_LOOKS: dict[str, MaterialLook] = {
    # walls
    "brickwork": MaterialLook((150, 72, 52), "brick"),
    "limestone_wall": MaterialLook((203, 192, 160), "blocks"),
    "rough_concrete": MaterialLook((138, 137, 132), "concrete"),
    "plasterboard": MaterialLook((226, 221, 206), "plain"),
    "ceramic_tiles": MaterialLook((212, 228, 232), "tiles"),
    "wooden_lining": MaterialLook((158, 108, 60), "planks"),
    "glass_window": MaterialLook((150, 192, 218), "glass"),
    "curtains_velvet": MaterialLook((122, 30, 46), "fabric"),
    "curtains_cotton_0.5": MaterialLook((204, 186, 150), "fabric"),
    "panel_fabric_covered_8pcf": MaterialLook((68, 86, 112), "panels"),
    # floors
    "concrete_floor": MaterialLook((118, 118, 116), "concrete"),
    "marble_floor": MaterialLook((232, 229, 221), "tiles"),
    "linoleum_on_concrete": MaterialLook((96, 132, 112), "plain"),
    "wood_16mm": MaterialLook((150, 98, 54), "planks"),
    "carpet_thin": MaterialLook((92, 96, 122), "carpet"),
    "carpet_cotton": MaterialLook((150, 62, 56), "carpet"),
    "carpet_tufted_9.5mm": MaterialLook((72, 112, 82), "carpet"),
    # ceilings
    "ceiling_plasterboard": MaterialLook((238, 237, 232), "plain"),
    "ceiling_fissured_tile": MaterialLook((240, 238, 228), "ceiling_tiles"),
    "ceiling_fibre_absorber": MaterialLook((222, 222, 216), "ceiling_tiles"),
    "ceiling_metal_panel": MaterialLook((190, 195, 202), "panels"),
}
"""Every material the sampler may choose, with its look (names are pyroomacoustics')."""

WALL_MATERIALS: tuple[str, ...] = (
    "brickwork",
    "limestone_wall",
    "rough_concrete",
    "plasterboard",
    "ceramic_tiles",
    "wooden_lining",
    "glass_window",
    "curtains_velvet",
    "curtains_cotton_0.5",
    "panel_fabric_covered_8pcf",
)
FLOOR_MATERIALS: tuple[str, ...] = (
    "concrete_floor",
    "marble_floor",
    "linoleum_on_concrete",
    "wood_16mm",
    "carpet_thin",
    "carpet_cotton",
    "carpet_tufted_9.5mm",
)
CEILING_MATERIALS: tuple[str, ...] = (
    "ceiling_plasterboard",
    "rough_concrete",
    "ceiling_fissured_tile",
    "ceiling_fibre_absorber",
    "ceiling_metal_panel",
    "wooden_lining",
)


def absorption(material: str, frequency: float = 1000.0) -> float:
    """Energy absorption coefficient of a database material at the octave band nearest
    ``frequency`` (pyroomacoustics' table; bands 125 Hz .. 4 or 8 kHz)."""
    import pyroomacoustics as pra

    try:
        table = pra.Material(str(material)).energy_absorption
    except (KeyError, ValueError, TypeError):
        raise ConfigError(
            f"unknown material {material!r}: not in pyroomacoustics' database "
            "(see avgen.data.rooms.spec.MATERIAL_LOOKS for the ones with a look)"
        ) from None
    freqs = np.asarray(table["center_freqs"][: len(table["coeffs"])], dtype=np.float64)
    i = int(np.argmin(np.abs(np.log2(freqs / frequency))))
    return float(table["coeffs"][i])


# ----------------------------------------------------------------------------------------------
# Room specification
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomSpec:
    """Everything that determines a simulated impulse response.

    Attributes:
        dimensions: ``(L, W, H)`` in metres along x, y, z.
        materials: a pyroomacoustics database material per surface of :data:`SURFACES`.
        source: source (talker's mouth) position ``(x, y, z)`` in metres.
        microphone: microphone position ``(x, y, z)`` in metres.
        scattering: scattering coefficient of every surface (used by the ray tracer).
        max_order: image-source order: the early part with ``ray_tracing``, the whole response
            without it (a pure image-source response is truncated at that order, and its
            decay is then that of the truncation, not of the room).
        ray_tracing: add pyroomacoustics' stochastic ray tracing for the late tail ("hybrid").
        air_absorption: frequency-dependent air absorption.
        sample_rate: Hz.
        seed: seed of the ray tracer (pyroomacoustics' generators are seeded from it).
    """

    dimensions: tuple[float, float, float]
    materials: dict[str, str]
    source: tuple[float, float, float]
    microphone: tuple[float, float, float]
    scattering: float = 0.3
    max_order: int = 3
    ray_tracing: bool = True
    air_absorption: bool = False
    sample_rate: int = SAMPLE_RATE
    seed: int = 0

    def __post_init__(self) -> None:
        dims = tuple(float(v) for v in self.dimensions)
        src = tuple(float(v) for v in self.source)
        mic = tuple(float(v) for v in self.microphone)
        if len(dims) != 3 or min(dims) <= 0:
            raise ConfigError(f"room dimensions must be three positive lengths, got {dims}")
        for name, p in (("source", src), ("microphone", mic)):
            if len(p) != 3 or any(not 0.0 < v < d for v, d in zip(p, dims)):
                raise ConfigError(f"{name} {p} is not strictly inside the room {dims}")
        if set(self.materials) != set(SURFACES):
            raise ConfigError(
                f"materials must name exactly the surfaces {', '.join(SURFACES)}; "
                f"got {', '.join(sorted(self.materials))}"
            )
        for material in self.materials.values():
            absorption(material)  # raises ConfigError for a name not in the database
        if not 0.0 <= self.scattering <= 1.0:
            raise ConfigError(f"scattering must be in [0, 1], got {self.scattering}")
        if self.max_order < 0:
            raise ConfigError(f"max_order must be >= 0, got {self.max_order}")
        if math.dist(src, mic) < 0.1:
            raise ConfigError("source and microphone are closer than 10 cm")
        object.__setattr__(self, "dimensions", dims)
        object.__setattr__(self, "source", src)
        object.__setattr__(self, "microphone", mic)
        object.__setattr__(self, "materials", {s: str(self.materials[s]) for s in SURFACES})

    def __hash__(self) -> int:
        return hash(
            (
                self.dimensions,
                tuple(sorted(self.materials.items())),
                self.source,
                self.microphone,
                self.scattering,
                self.max_order,
                self.ray_tracing,
                self.air_absorption,
                self.sample_rate,
                self.seed,
            )
        )

    @property
    def distance(self) -> float:
        """Source-microphone distance in metres."""
        return math.dist(self.source, self.microphone)

    @property
    def volume(self) -> float:
        """Volume in cubic metres."""
        L, W, H = self.dimensions
        return L * W * H

    def surface_areas(self) -> dict[str, float]:
        """Area of each surface in square metres."""
        L, W, H = self.dimensions
        return {
            "west": W * H,
            "east": W * H,
            "south": L * H,
            "north": L * H,
            "floor": L * W,
            "ceiling": L * W,
        }

    def eyring_rt60(self, frequency: float = 1000.0) -> float:
        r"""Eyring's reverberation time at the band nearest ``frequency``:
        :math:`T = 0.161 V / (-S \ln(1 - \bar\alpha))` with the area-weighted mean absorption.
        A rough guide only: the label of a room is the RT60 measured on its response."""
        areas = self.surface_areas()
        total = sum(areas.values())
        mean_alpha = (
            sum(areas[s] * absorption(self.materials[s], frequency) for s in SURFACES) / total
        )
        return 0.161 * self.volume / (-total * math.log(max(1.0 - mean_alpha, 1e-9)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (inverse of :meth:`from_dict`)."""
        d = asdict(self)
        d["dimensions"] = list(self.dimensions)
        d["source"] = list(self.source)
        d["microphone"] = list(self.microphone)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RoomSpec:
        """Rebuild a spec from :meth:`to_dict`'s output."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# ----------------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------------


def sample_room(
    seed: int,
    *,
    rt60_range: tuple[float, float] = (0.15, 0.8),
    min_distance: float = 1.0,
    max_distance: float = 4.0,
    wall_margin: float = 0.5,
    ray_tracing: bool = True,
) -> RoomSpec:
    """Draw a room, deterministically from ``seed``.

    * dimensions ``L ~ U(3, 9)``, ``W ~ U(3, 7)``, ``H ~ U(2.5, 3.8)`` m;
    * materials: with probability 1/2 the four walls share one material, else each wall draws
      its own, from :data:`WALL_MATERIALS`; floor from :data:`FLOOR_MATERIALS`, ceiling from
      :data:`CEILING_MATERIALS`. Draws are rejected until Eyring's RT60 at 1 kHz lies in
      ``rt60_range`` (a guide to keep rooms speech-like; the label is the RT60 measured on the
      simulated response, which with absorption concentrated on few surfaces runs 1.2 to 3
      times Eyring's, as in real rooms with a carpet and bare walls: over seeds 0-15 the
      default range gave measured T30 from 0.33 to 2.45 s, median 0.66 s);
    * microphone at height ``U(1.0, 1.6)`` m, source (mouth) at ``U(1.4, 1.8)`` m, both at
      least ``wall_margin`` from every wall, at a horizontal-and-vertical distance in
      ``[min_distance, max_distance]`` m (rejection sampling).
    """
    lo, hi = rt60_range
    if not 0 < lo < hi:
        raise ConfigError(f"rt60_range must be (low, high) with 0 < low < high, got {rt60_range}")
    if not 0 < min_distance < max_distance:
        raise ConfigError("need 0 < min_distance < max_distance")
    rng = numpy_generator(seed)
    for _ in range(10_000):
        dims = (
            float(rng.uniform(3.0, 9.0)),
            float(rng.uniform(3.0, 7.0)),
            float(rng.uniform(2.5, 3.8)),
        )
        if rng.random() < 0.5:
            walls = [str(rng.choice(WALL_MATERIALS))] * 4
        else:
            walls = [str(m) for m in rng.choice(WALL_MATERIALS, size=4)]
        materials = dict(zip(SURFACES[:4], walls))
        materials["floor"] = str(rng.choice(FLOOR_MATERIALS))
        materials["ceiling"] = str(rng.choice(CEILING_MATERIALS))
        positions = _sample_positions(rng, dims, min_distance, max_distance, wall_margin)
        if positions is None:
            continue
        source, mic = positions
        spec = RoomSpec(
            dims,
            materials,
            source,
            mic,
            ray_tracing=ray_tracing,
            seed=int(rng.integers(0, 2**31 - 1)),
        )
        if lo <= spec.eyring_rt60(1000.0) <= hi:
            return spec
    raise ConfigError(f"no room with Eyring RT60 in {rt60_range} found; widen the range")


def _sample_positions(
    rng: np.random.Generator,
    dims: tuple[float, float, float],
    dmin: float,
    dmax: float,
    margin: float,
) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    L, W, _ = dims
    for _ in range(200):
        mic = (
            rng.uniform(margin, L - margin),
            rng.uniform(margin, W - margin),
            rng.uniform(1.0, 1.6),
        )
        src = (
            rng.uniform(margin, L - margin),
            rng.uniform(margin, W - margin),
            rng.uniform(1.4, 1.8),
        )
        if dmin <= math.dist(src, mic) <= dmax:
            return (tuple(float(v) for v in src), tuple(float(v) for v in mic))  # type: ignore[return-value]
    return None
