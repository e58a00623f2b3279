"""Several viewpoints of one room: new talker and microphone positions, a jittered camera and light.

A *viewpoint* is one source/microphone placement in a room (and so one impulse response and one
set of measured labels) together with the picture a camera near the microphone takes of it. The
room -- dimensions and materials -- stays the same across its viewpoints, as in the
multi-viewpoint rooms of SoundSpaces (Chen et al., ECCV 2020) that visual acoustic matching
(AViTAR, Chen et al., CVPR 2022) and MVSD train on; a model must then tell the room from the
placement.

:func:`room_viewpoints` draws them, deterministically from ``(seed, room_id, index)``:

* viewpoint 0 keeps the room's own positions and ray-tracer seed (the spec
  :func:`~avgen.data.rooms.spec.sample_room` drew); viewpoint ``k > 0`` draws new positions by
  the same rejection sampling (both at least ``wall_margin`` from every wall, microphone at
  height ``U(1.0, 1.6)`` m, mouth at ``U(1.4, 1.8)`` m, distance in ``[min_distance,
  max_distance]``) and a new ray-tracer seed;
* every viewpoint's camera and light are jittered a little (:func:`jitter_camera`,
  :func:`jitter_lighting`) unless ``jitter=False``: yaw ``U(-J_yaw, J_yaw)``, pitch
  ``U(-J_pitch, J_pitch)``, a shift of each coordinate by ``U(-J_shift, J_shift)`` metres, light
  gain ``U(1 - J_gain, 1 + J_gain)``, ambient share ``0.5 + U(-J_amb, J_amb)``, tint of each
  channel ``U(1 - J_tint, 1 + J_tint)`` (the half-widths are :class:`Jitter`'s fields).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from avgen.data.rooms.picture import Camera, Lighting
from avgen.data.rooms.spec import RoomSpec, _sample_positions
from avgen.errors import ConfigError
from avgen.seeding import derive_seed, numpy_generator


@dataclass(frozen=True)
class Jitter:
    """Half-widths of the uniform camera and light jitter between viewpoints."""

    yaw_deg: float = 8.0
    pitch_deg: float = 4.0
    shift_m: float = 0.1
    gain: float = 0.15
    ambient: float = 0.1
    tint: float = 0.05

    def __post_init__(self) -> None:
        if any(v < 0 for v in dataclasses.astuple(self)):
            raise ConfigError("jitter half-widths must be >= 0")
        if self.gain >= 1.0 or self.ambient > 0.5 or self.tint >= 1.0 or self.pitch_deg > 80:
            raise ConfigError(
                "jitter too large: need gain < 1, ambient <= 0.5, tint < 1, pitch_deg <= 80"
            )


@dataclass(frozen=True)
class Viewpoint:
    """One placement in a room: the spec to simulate, and the camera and light to render."""

    id: str
    room_id: str
    index: int
    spec: RoomSpec
    camera: Camera
    lighting: Lighting

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room_id": self.room_id,
            "index": self.index,
            "spec": self.spec.to_dict(),
            "camera": self.camera.to_dict(),
            "lighting": self.lighting.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Viewpoint:
        return cls(
            id=str(d["id"]),
            room_id=str(d["room_id"]),
            index=int(d["index"]),
            spec=RoomSpec.from_dict(d["spec"]),
            camera=Camera.from_dict(d["camera"]),
            lighting=Lighting.from_dict(d["lighting"]),
        )


def jitter_camera(rng: np.random.Generator, jitter: Jitter | None = None) -> Camera:
    """A camera a little off the plain one (see the module's ranges; default :class:`Jitter`)."""
    jitter = jitter or Jitter()
    return Camera(
        yaw_deg=float(rng.uniform(-jitter.yaw_deg, jitter.yaw_deg)),
        pitch_deg=float(rng.uniform(-jitter.pitch_deg, jitter.pitch_deg)),
        offset=tuple(float(v) for v in rng.uniform(-jitter.shift_m, jitter.shift_m, size=3)),
    )


def jitter_lighting(rng: np.random.Generator, jitter: Jitter | None = None) -> Lighting:
    """A light a little off the plain one (see the module's ranges; default :class:`Jitter`)."""
    jitter = jitter or Jitter()
    return Lighting(
        ambient=0.5 + float(rng.uniform(-jitter.ambient, jitter.ambient)),
        gain=float(rng.uniform(1 - jitter.gain, 1 + jitter.gain)),
        tint=tuple(float(v) for v in rng.uniform(1 - jitter.tint, 1 + jitter.tint, size=3)),
    )


def room_viewpoints(
    room: RoomSpec,
    room_id: str,
    count: int,
    *,
    seed: int,
    jitter: Jitter | bool = True,
    min_distance: float = 1.0,
    max_distance: float = 4.0,
    wall_margin: float = 0.5,
) -> list[Viewpoint]:
    """``count`` viewpoints of ``room`` (ids ``<room_id>-v<k>``). ``jitter``: ``True`` for the
    default :class:`Jitter`, a :class:`Jitter`, or ``False`` to keep the plain camera and
    light. Deterministic in ``(room, room_id, seed, ...)``; viewpoint ``k`` does not depend on
    ``count``."""
    if count < 1:
        raise ConfigError(f"need at least one viewpoint per room, got {count}")
    out = []
    for k in range(count):
        rng = numpy_generator(derive_seed(seed, "viewpoint", room_id, k))
        spec = room
        if k > 0:
            positions = _sample_positions(
                rng, room.dimensions, min_distance, max_distance, wall_margin
            )
            if positions is None:
                raise ConfigError(
                    f"room {room_id}: no source/microphone placement {min_distance}-"
                    f"{max_distance} m apart found; lower min_distance"
                )
            source, mic = positions
            spec = dataclasses.replace(
                room, source=source, microphone=mic, seed=int(rng.integers(0, 2**31 - 1))
            )
        if jitter is False:
            camera, lighting = Camera(), Lighting()
        else:
            widths = jitter if isinstance(jitter, Jitter) else Jitter()
            camera, lighting = jitter_camera(rng, widths), jitter_lighting(rng, widths)
        out.append(Viewpoint(f"{room_id}-v{k}", room_id, k, spec, camera, lighting))
    return out
