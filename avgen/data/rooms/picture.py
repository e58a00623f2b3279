"""A small picture of a simulated room, drawn from the same ground truth as its impulse response.

:func:`render_room` ray-casts the shoebox of a :class:`~avgen.data.rooms.spec.RoomSpec` from a
pinhole camera at the microphone, looking horizontally towards the talker (90 degree field of
view). Every surface is painted with the colour and procedural texture of its material
(:data:`~avgen.data.rooms.spec.MATERIAL_LOOKS`: bricks, planks, tiles, carpet, curtain folds,
window frames, ...), measured in metres on the surface so that texture scale carries depth;
the talker is a simple figure (head and body) at the source position. Shading is a head-light
Lambert term with distance fall-off. Everything is a pure function of the spec -- integer
hashing, no random generator -- so the same spec gives the same pixels.

Two small values vary the picture without changing the room (the room kit jitters them between
viewpoints, :mod:`avgen.data.rooms.viewpoints`): :class:`Camera` (yaw, pitch, a shift of the
camera away from the microphone, field of view) and :class:`Lighting` (ambient share, distance
fall-off, gain, colour tint). Their defaults give the pixels of the plain camera exactly.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from avgen.data.rooms.spec import MATERIAL_LOOKS, SURFACES, MaterialLook, RoomSpec
from avgen.errors import ConfigError

FIELD_OF_VIEW_DEG = 90.0
"""Horizontal (and vertical) field of view of the camera."""

_SKIN = np.array([224, 172, 140], dtype=np.float64) / 255.0
_CLOTHES = np.array([58, 68, 92], dtype=np.float64) / 255.0
_DEFAULT_LOOK = MaterialLook((180, 180, 180), "plain")


# ----------------------------------------------------------------------------------------------
# Deterministic noise
# ----------------------------------------------------------------------------------------------


def _hash(i: np.ndarray, j: np.ndarray, salt: int) -> np.ndarray:
    """Integer hash of lattice coordinates to [0, 1) (uint32 arithmetic, platform-exact)."""
    x = (i.astype(np.int64) * 73856093) ^ (j.astype(np.int64) * 19349663) ^ (salt * 83492791)
    x = x.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    for _ in range(2):
        x = ((x >> np.uint64(16)) ^ x) * np.uint64(0x45D9F3B) & np.uint64(0xFFFFFFFF)
    x = (x >> np.uint64(16)) ^ x
    return x.astype(np.float64) / 4294967296.0


def _value_noise(u: np.ndarray, v: np.ndarray, salt: int) -> np.ndarray:
    """Smooth value noise on the unit lattice, in [0, 1)."""
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    su, sv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    a = _hash(iu, iv, salt)
    b = _hash(iu + 1, iv, salt)
    c = _hash(iu, iv + 1, salt)
    d = _hash(iu + 1, iv + 1, salt)
    return (a * (1 - su) + b * su) * (1 - sv) + (c * (1 - su) + d * su) * sv


def _grid(
    u: np.ndarray, v: np.ndarray, width: float, height: float, joint: float, stagger: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of a (staggered) grid: row index, column index, and a mask of the joints."""
    row = np.floor(v / height)
    offset = np.where(row % 2 == 1, width / 2, 0.0) if stagger else 0.0
    col = np.floor((u + offset) / width)
    fu = (u + offset) - col * width
    fv = v - row * height
    joint_mask = (fu < joint) | (fv < joint)
    return row, col, joint_mask


# ----------------------------------------------------------------------------------------------
# Textures: (u, v) in metres on the surface -> RGB in [0, 1]
# ----------------------------------------------------------------------------------------------


def _texture(look: MaterialLook, u: np.ndarray, v: np.ndarray, salt: int) -> np.ndarray:
    base = np.array(look.color, dtype=np.float64) / 255.0
    n = u.size
    shade = np.ones(n)
    color = np.broadcast_to(base, (n, 3)).copy()
    kind = look.texture
    if kind == "plain":
        shade = 0.97 + 0.06 * _value_noise(u / 0.6, v / 0.6, salt)
    elif kind in ("brick", "blocks"):
        w, h, j = (0.24, 0.085, 0.012) if kind == "brick" else (0.6, 0.3, 0.01)
        row, col, joint = _grid(u, v, w, h, j, stagger=True)
        spread = 0.3 if kind == "brick" else 0.12
        shade = (1 - spread / 2) + spread * _hash(row, col, salt)
        color[joint] = np.array([0.74, 0.72, 0.68])
        shade[joint] = 1.0
    elif kind == "concrete":
        shade = (
            0.86
            + 0.2 * _value_noise(u / 0.15, v / 0.15, salt)
            + 0.06 * _value_noise(u / 0.02, v / 0.02, salt + 1)
        )
    elif kind in ("tiles", "ceiling_tiles"):
        size = 0.3 if kind == "tiles" else 0.6
        row, col, joint = _grid(u, v, size, size, 0.012)
        shade = 0.95 + 0.08 * _hash(row, col, salt)
        if kind == "ceiling_tiles":  # fissures: dark specks
            shade = shade - 0.12 * (_value_noise(u / 0.03, v / 0.03, salt + 2) > 0.8)
            color[joint] = np.array([0.82, 0.82, 0.84])
        else:
            color[joint] = base * 0.7
        shade[joint] = 1.0
    elif kind == "planks":
        width = 0.14
        plank = np.floor(u / width)
        along = v + 1.7 * _hash(plank, plank * 7 + 3, salt)
        grain = 1 + 0.07 * np.sin(
            2 * np.pi * (along * 6 + 2.5 * _value_noise(u / 0.05, along, salt))
        )
        shade = (0.82 + 0.3 * _hash(plank, plank + 11, salt)) * grain
        shade = np.where(u - plank * width < 0.006, 0.6, shade)
    elif kind == "carpet":
        shade = (
            0.88
            + 0.16 * _hash(np.floor(u / 0.008), np.floor(v / 0.008), salt)
            + 0.08 * _value_noise(u / 0.4, v / 0.4, salt + 1)
        )
    elif kind == "fabric":
        shade = 0.68 + 0.32 * (
            0.5 + 0.5 * np.sin(2 * np.pi * u / 0.16 + 0.6 * _value_noise(u, v / 0.7, salt))
        )
    elif kind == "glass":
        _, _, frame = _grid(u, v, 1.2, 0.9, 0.06)
        shade = 0.85 + 0.3 * np.clip(v / 3.0, 0.0, 1.0)
        color[frame] = np.array([0.9, 0.9, 0.88])
        shade[frame] = 1.0
    elif kind == "panels":
        row, col, joint = _grid(u, v, 0.6, 1.2, 0.015)
        shade = 0.94 + 0.1 * _hash(row, col, salt)
        color[joint] = base * 0.55
        shade[joint] = 1.0
    return np.clip(color * shade[:, None], 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# The camera and the scene
# ----------------------------------------------------------------------------------------------

CAMERA_WALL_MARGIN = 0.05
"""Closest distance (m) of a shifted camera to a wall: shifts are clipped to keep it inside."""


@dataclass(frozen=True)
class Camera:
    """Where the camera is and where it looks, relative to the plain camera at the microphone
    looking horizontally at the talker.

    Attributes:
        yaw_deg: turn to the left (positive, anticlockwise seen from above), degrees.
        pitch_deg: tilt upwards (positive), degrees.
        offset: shift ``(dx, dy, dz)`` of the camera from the microphone in metres (room axes),
            clipped to stay :data:`CAMERA_WALL_MARGIN` inside the room. The camera still
            aims at the talker from its shifted position.
        fov_deg: horizontal (and vertical) field of view, degrees.
    """

    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fov_deg: float = FIELD_OF_VIEW_DEG

    def __post_init__(self) -> None:
        offset = tuple(float(v) for v in self.offset)
        if len(offset) != 3 or not all(math.isfinite(v) for v in offset):
            raise ConfigError(f"camera offset must be three finite numbers, got {self.offset}")
        if not 10.0 <= self.fov_deg <= 150.0:
            raise ConfigError(f"camera fov_deg must be in [10, 150], got {self.fov_deg}")
        if not -80.0 <= self.pitch_deg <= 80.0:
            raise ConfigError(f"camera pitch_deg must be in [-80, 80], got {self.pitch_deg}")
        object.__setattr__(self, "offset", offset)

    def to_dict(self) -> dict:
        return {
            "yaw_deg": self.yaw_deg,
            "pitch_deg": self.pitch_deg,
            "offset": list(self.offset),
            "fov_deg": self.fov_deg,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Camera:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Lighting:
    """How the surfaces are lit: a head-light Lambert term with exponential fall-off.

    A surface point at distance ``t`` whose normal makes angle ``theta`` with the ray gets
    ``gain * tint * (ambient + (1 - ambient) |cos theta|) * exp(-falloff * t)`` times its
    texture colour (the talker: ``gain * tint * 0.95 * exp(-falloff * t)``).

    Attributes:
        ambient: share of light that does not depend on the angle, in ``[0, 1]``.
        falloff: distance fall-off per metre.
        gain: overall brightness.
        tint: per-channel RGB factors (colour temperature of the light).
    """

    ambient: float = 0.5
    falloff: float = 0.05
    gain: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        tint = tuple(float(v) for v in self.tint)
        if len(tint) != 3 or not all(0.0 <= v <= 4.0 for v in tint):
            raise ConfigError(f"lighting tint must be three factors in [0, 4], got {self.tint}")
        if not 0.0 <= self.ambient <= 1.0:
            raise ConfigError(f"lighting ambient must be in [0, 1], got {self.ambient}")
        if not (0.0 <= self.falloff <= 5.0 and 0.0 < self.gain <= 4.0):
            raise ConfigError("lighting needs falloff in [0, 5] and gain in (0, 4]")
        object.__setattr__(self, "tint", tint)

    def to_dict(self) -> dict:
        return {
            "ambient": self.ambient,
            "falloff": self.falloff,
            "gain": self.gain,
            "tint": list(self.tint),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Lighting:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of ``v`` about the unit ``axis`` by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return v * c + np.cross(axis, v) * s + axis * (axis @ v) * (1 - c)


def _camera_rays(
    spec: RoomSpec, size: int, camera: Camera | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Ray origin (3,) and unit directions (size*size, 3), row-major from the top-left."""
    camera = camera or Camera()
    origin = np.array(spec.microphone, dtype=np.float64)
    if any(camera.offset):
        lo = np.full(3, CAMERA_WALL_MARGIN)
        hi = np.array(spec.dimensions, dtype=np.float64) - CAMERA_WALL_MARGIN
        origin = np.clip(origin + np.array(camera.offset), lo, hi)
    src = np.array(spec.source, dtype=np.float64)
    forward = src - origin
    forward[2] = 0.0
    if np.linalg.norm(forward) < 1e-6:  # talker straight above or below: look along +x
        forward = np.array([1.0, 0.0, 0.0])
    forward /= np.linalg.norm(forward)
    up = np.array([0.0, 0.0, 1.0])
    if camera.yaw_deg:
        forward = _rotate(forward, up, math.radians(camera.yaw_deg))
    right = np.cross(forward, up)
    if camera.pitch_deg:  # tilt forward and up together about the right axis
        axis = right / np.linalg.norm(right)
        forward = _rotate(forward, axis, math.radians(camera.pitch_deg))
        up = _rotate(up, axis, math.radians(camera.pitch_deg))
    half = math.tan(math.radians(camera.fov_deg) / 2)
    coords = (np.arange(size) + 0.5) / size * 2 - 1
    px, py = np.meshgrid(coords * half, -coords * half)
    dirs = forward[None, :] + px.reshape(-1, 1) * right[None, :] + py.reshape(-1, 1) * up[None, :]
    return origin, dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def _hit_box(
    origin: np.ndarray, dirs: np.ndarray, dims: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the box's inner surface along each ray, and the surface index hit
    (order of :data:`SURFACES`: west, east, south, north, floor, ceiling)."""
    t_all = np.full((dirs.shape[0], 6), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(3):
            d = dirs[:, axis]
            t_low = np.where(d < 0, -origin[axis] / d, np.inf)
            t_high = np.where(d > 0, (dims[axis] - origin[axis]) / d, np.inf)
            t_all[:, 2 * axis] = t_low
            t_all[:, 2 * axis + 1] = t_high
    surface = np.argmin(t_all, axis=1)
    return t_all[np.arange(dirs.shape[0]), surface], surface


def _hit_talker(
    origin: np.ndarray, dirs: np.ndarray, spec: RoomSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the talker figure (inf where missed) and whether the hit is the head."""
    head_c = np.array(spec.source, dtype=np.float64)
    head_r = 0.11
    oc = origin - head_c
    b = dirs @ oc
    disc = b * b - (oc @ oc - head_r * head_r)
    t_head = np.where(disc >= 0, -b - np.sqrt(np.maximum(disc, 0)), np.inf)
    t_head = np.where(t_head > 0, t_head, np.inf)
    # body: vertical cylinder of radius 0.19 from the floor to the shoulders
    body_r, top = 0.19, head_c[2] - 0.13
    dx, dy = dirs[:, 0], dirs[:, 1]
    ox, oy = origin[0] - head_c[0], origin[1] - head_c[1]
    a = dx * dx + dy * dy
    bb = 2 * (ox * dx + oy * dy)
    cc = ox * ox + oy * oy - body_r * body_r
    disc = bb * bb - 4 * a * cc
    with np.errstate(divide="ignore", invalid="ignore"):
        t_body = np.where(
            (disc >= 0) & (a > 1e-12), (-bb - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf
        )
    z = origin[2] + t_body * dirs[:, 2]
    t_body = np.where((t_body > 0) & (z >= 0) & (z <= top), t_body, np.inf)
    is_head = t_head < t_body
    return np.minimum(t_head, t_body), is_head


def _surface_uv(points: np.ndarray, surface: int) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    if surface in (0, 1):  # west / east: along y, up z
        return y, z
    if surface in (2, 3):  # south / north: along x, up z
        return x, z
    return x, y  # floor / ceiling


def render_room(
    spec: RoomSpec,
    size: int = 128,
    supersample: int = 2,
    *,
    camera: Camera | None = None,
    lighting: Lighting | None = None,
) -> np.ndarray:
    """Picture of the room seen from the microphone towards the talker.

    Returns a ``(size, size, 3)`` uint8 RGB array. ``supersample`` x ``supersample`` rays per
    pixel are averaged (anti-aliasing of the fine textures). ``camera`` and ``lighting``
    (default: :class:`Camera` and :class:`Lighting` with their defaults, the plain view)
    move the camera a little and change the light. Deterministic: a pure function of
    ``(spec, size, supersample, camera, lighting)`` (``spec.seed`` is not used).
    """
    if size < 8 or supersample < 1:
        raise ConfigError("render_room needs size >= 8 and supersample >= 1")
    lighting = lighting or Lighting()
    n = size * supersample
    origin, dirs = _camera_rays(spec, n, camera)
    t_box, surface = _hit_box(origin, dirs, spec.dimensions)
    t_fig, is_head = _hit_talker(origin, dirs, spec)
    rgb = np.zeros((dirs.shape[0], 3))
    normals = np.array(
        [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64
    )
    for k, name in enumerate(SURFACES):
        sel = (surface == k) & (t_box <= t_fig)
        if not np.any(sel):
            continue
        pts = origin[None, :] + t_box[sel, None] * dirs[sel]
        u, v = _surface_uv(pts, k)
        material = spec.materials[name]
        look = MATERIAL_LOOKS.get(material, _DEFAULT_LOOK)
        color = _texture(look, u, v, zlib.crc32(material.encode()) & 0x7FFFFFFF)
        lambert = np.abs(dirs[sel] @ normals[k])
        light = (lighting.ambient + (1.0 - lighting.ambient) * lambert) * np.exp(
            -lighting.falloff * t_box[sel]
        )
        rgb[sel] = color * light[:, None]
    fig = t_fig < t_box
    if np.any(fig):
        light = np.exp(-lighting.falloff * t_fig[fig]) * 0.95
        rgb[fig] = np.where(is_head[fig, None], _SKIN, _CLOTHES) * light[:, None]
    if lighting.gain != 1.0 or lighting.tint != (1.0, 1.0, 1.0):
        rgb = rgb * (lighting.gain * np.array(lighting.tint))[None, :]
    img = rgb.reshape(size, supersample, size, supersample, 3).mean(axis=(1, 3))
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
