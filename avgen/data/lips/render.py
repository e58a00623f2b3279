"""Rasterise articulator tracks into grayscale mouth-region frames (vectorised torch).

Geometry, in *mouth coordinates* ``(X, Y)``: image half-widths, origin at the resting lip line,
``Y`` pointing down, after undoing the frame's head pose (translation, in-plane rotation,
scale) so that the face moves under a still camera. With the articulators of one frame
(:data:`avgen.data.lips.visemes.ARTICULATORS`) and the speaker's style:

* outer half-width ``a = 0.6 w_s (0.80 + 0.36 width - 0.16 protrusion)``; the opening's
  half-width ``a_in = a (0.50 + 0.42 width)(1 - 0.15 protrusion)`` (rounding narrows it more);
* the opening's profile ``s(u) = sgnpow(1 - |u|^p, r)`` with ``u = X / a_in``,
  ``p = 1.8 + 1.4 width``, ``r = 0.5 + 0.35 width``: an ellipse when rounded, a flat slit with
  pointed corners when spread (``sgnpow(v, r) = sign(v) |v|^r`` keeps it defined, and
  negative, beyond the corners);
* the inner lip edges ``Y = top s(u)`` and ``Y = bottom s(u)`` with
  ``top = -(0.10 upper_raise + (0.05 + 0.12 protrusion) jaw) h_s`` and
  ``bottom = (1 - tuck) 0.42 jaw h_s + tuck (top + 0.035 h_s)`` (a tucked lower lip rises to
  the upper teeth); where ``bottom < top`` the lips touch;
* the outer contour ``Y = top s+ - T_u w_u(X/a) (1 + bow(X/a))`` above and
  ``Y = bottom s+ + T_l w_l(X/a)`` below (``s+ = max(s, 0)``), with lip thicknesses ``T_u, T_l``
  that grow with protrusion and, for the lower lip, shrink when tucked; ``bow`` is the cupid's
  bow (two peaks at ``|u| = 0.22`` and the philtrum dip at ``u = 0``);
* inside the opening: a dark cavity, lighter towards the inner lips; an upper-teeth band below
  the upper lip whose depth follows ``teeth``; a lower-teeth band above the lower lip; the tongue
  (an ellipse) that rises towards the upper teeth with ``tongue``. Teeth darken towards the
  corners and show the gaps between incisors;
* skin with a static texture (it moves with the head), shadows at the mouth corners, below the
  lower lip (it moves with the jaw), in the philtrum and under the nose; a highlight on the lower
  lip; the seam where the lips touch.

Anti-aliasing is analytic: every edge is the zero set of a field ``phi``; its signed distance
in pixels is ``phi / |grad phi|`` with the gradient taken by central differences on the pixel
grid, and a region between two edges covers ``clamp(min(1/2, d_1) + min(1/2, d_2), 0, 1)`` of a
pixel (a one-pixel box filter across the edges; a lens thinner than a pixel fades instead of
leaving a half-grey line). Lighting last: ``gain (1 + slope (cos phi x + sin phi y))`` in image
coordinates, then ``gamma``.

All per-pixel work is batched tensors ``(frames, size, size)`` in chunks; no Python loop visits
pixels. Runs on any torch device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from avgen.data.lips.style import SceneTracks, SpeakerStyle

_CPU_CHUNK_PIXELS = 65_536  # frames per chunk on CPU: cache-sized (16 frames of 64 x 64)
_GPU_CHUNK_FRAMES = 256


@contextlib.contextmanager
def single_intra_op_thread(device: torch.device) -> Iterator[None]:
    """Run torch CPU ops on one thread, restoring the caller's setting afterwards.

    A chunk of small frames gains nothing from intra-op threads, and on a loaded machine
    OpenMP's barriers made rendering 10-60x slower (measured on 2 shared cores); parallelise
    across utterances (processes) instead.
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class RenderOutput:
    """Frames in [0, 1] ``(N, size, size)`` float32 and the cavity area in pixels ``(N,)``."""

    frames: torch.Tensor
    cavity_area: torch.Tensor


def _gauss(z2: torch.Tensor) -> torch.Tensor:
    """``exp(-z2)`` with ``z2`` clipped at 30: exp of large negative numbers is denormal-slow
    on CPUs, and ``e^-30`` is nothing on a grey scale."""
    return torch.exp(-z2.clamp(max=30.0))


def _sigmoid(z: torch.Tensor) -> torch.Tensor:
    """Logistic function with the argument clipped to [-30, 30] (same reason as _gauss)."""
    return torch.sigmoid(z.clamp(-30.0, 30.0))


def _sgnpow(v: torch.Tensor, r: torch.Tensor | float) -> torch.Tensor:
    return torch.sign(v) * v.abs().pow(r)


def _grad_norm(phi: torch.Tensor) -> torch.Tensor:
    """``|grad phi|`` per pixel by central differences (one-sided at the borders)."""
    gx = torch.empty_like(phi)
    gy = torch.empty_like(phi)
    gx[..., 1:-1] = 0.5 * (phi[..., 2:] - phi[..., :-2])
    gx[..., 0] = phi[..., 1] - phi[..., 0]
    gx[..., -1] = phi[..., -1] - phi[..., -2]
    gy[..., 1:-1, :] = 0.5 * (phi[..., 2:, :] - phi[..., :-2, :])
    gy[..., 0, :] = phi[..., 1, :] - phi[..., 0, :]
    gy[..., -1, :] = phi[..., -1, :] - phi[..., -2, :]
    return torch.sqrt(gx * gx + gy * gy).clamp_min(1e-6)


def _distance(phi: torch.Tensor) -> torch.Tensor:
    """Signed distance in pixels to the zero set of ``phi`` (positive where ``phi > 0``)."""
    return phi / _grad_norm(phi)


def _strip(d_first: torch.Tensor, d_second: torch.Tensor) -> torch.Tensor:
    """Pixel coverage of the region where both signed distances are positive."""
    return (d_first.clamp(max=0.5) + d_second.clamp(max=0.5)).clamp(0.0, 1.0)


def _smooth_edge(d: torch.Tensor) -> torch.Tensor:
    """Coverage of a half-plane at signed distance ``d`` pixels (inside where positive)."""
    return (d + 0.5).clamp(0.0, 1.0)


def render_frames(
    articulators: torch.Tensor | np.ndarray,
    style: SpeakerStyle,
    scene: SceneTracks,
    size: int = 64,
    device: str | torch.device = "cpu",
) -> RenderOutput:
    """Render one frame per row of ``articulators`` ``(N, 7)``; see the module docstring."""
    device = torch.device(device)
    with single_intra_op_thread(device):
        return _render(articulators, style, scene, size, device)


def _render(
    articulators: torch.Tensor | np.ndarray,
    style: SpeakerStyle,
    scene: SceneTracks,
    size: int,
    device: torch.device,
) -> RenderOutput:
    art = torch.as_tensor(np.asarray(articulators, dtype=np.float32), device=device)
    if art.ndim != 2 or art.shape[1] != 7:
        raise ValueError(f"articulators must be (N, 7), got {tuple(art.shape)}")
    n = art.shape[0]
    pose = torch.as_tensor(
        np.stack(
            [
                scene.shift_x,
                scene.shift_y,
                scene.rotation,
                scene.scale,
                scene.gain,
                scene.light_angle,
                scene.light_slope,
            ]
        ).T.astype(np.float32),
        device=device,
    )
    if pose.shape[0] != n:
        raise ValueError(f"scene has {pose.shape[0]} frames, articulators {n}")
    coords = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size * 2 - 1
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    tex = torch.as_tensor(style.texture.astype(np.float32), device=device)
    frames = torch.empty((n, size, size), dtype=torch.float32, device=device)
    area = torch.empty((n,), dtype=torch.float32, device=device)
    chunk = (
        max(1, _CPU_CHUNK_PIXELS // (size * size)) if device.type == "cpu" else _GPU_CHUNK_FRAMES
    )
    for a in range(0, n, chunk):
        out = _render_chunk(art[a : a + chunk], pose[a : a + chunk], gx, gy, tex, style, size)
        frames[a : a + chunk], area[a : a + chunk] = out
    if scene.gamma != 1.0:
        frames = frames.clamp(0.0, 1.0).pow(scene.gamma)
    return RenderOutput(frames.clamp_(0.0, 1.0), area)


def _texture(
    tex: torch.Tensor,
    sx: torch.Tensor,
    sy: torch.Tensor,
    cr: torch.Tensor,
    sr: torch.Tensor,
    scale: torch.Tensor,
    mouth_y: float,
    xs: torch.Tensor,
    ys: torch.Tensor,
) -> torch.Tensor:
    """Skin texture ``sum_k A_k cos(2 pi (kx_k X + ky_k Y) + phi_k)`` in mouth coordinates.

    ``X, Y`` are affine in the image coordinates ``x, y``, so each phase splits into
    ``a_k(x) + b_k(y)`` and ``cos(a + b) = cos a cos b - sin a sin b`` turns the sum over
    ``k`` into one batched matrix product ``(N, H, 2K) @ (N, 2K, W)``.
    """
    amp, kx, ky, phi = (tex[:, i] for i in range(4))  # (K,)
    inv = 1.0 / scale[:, 0]  # (N, 1)
    cx = 2 * np.pi * (kx * cr[:, 0] - ky * sr[:, 0]) * inv  # d phase / dx, (N, K)
    cy = 2 * np.pi * (kx * sr[:, 0] + ky * cr[:, 0]) * inv  # d phase / dy
    const = phi - cx * sx[:, 0] - cy * sy[:, 0] - 2 * np.pi * ky * mouth_y
    a = cx[:, :, None] * xs + const[:, :, None]  # (N, K, W)
    b = cy[:, None, :] * ys[None, :, None]  # (N, H, K)
    left = torch.cat([amp * torch.cos(b), -amp * torch.sin(b)], dim=2)
    right = torch.cat([torch.cos(a), torch.sin(a)], dim=1)
    return torch.bmm(left, right)


def _render_chunk(
    art: torch.Tensor,
    pose: torch.Tensor,
    gx: torch.Tensor,
    gy: torch.Tensor,
    tex: torch.Tensor,
    style: SpeakerStyle,
    size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    col = [art[:, i, None, None] for i in range(7)]
    jaw, wid, prot, ur, tuck, teeth, tongue = col
    sx, sy, rot, scale, gain, l_ang, l_slope = [pose[:, i, None, None] for i in range(7)]

    # --- head pose: image -> mouth coordinates ---------------------------------------------
    px, py = gx - sx, gy - sy
    cr, sr = torch.cos(rot), torch.sin(rot)
    X = (cr * px + sr * py) / scale
    Y = (-sr * px + cr * py) / scale - style.mouth_y
    pix = 2.0 / size / scale  # one pixel in mouth units

    hs, th = style.mouth_height, style.lip_thickness
    # --- lip geometry (module docstring) ---------------------------------------------------
    half_w = 0.6 * style.mouth_width * (0.80 + 0.36 * wid - 0.16 * prot)
    half_w_in = half_w * (0.50 + 0.42 * wid) * (1 - 0.15 * prot)
    top = -(0.10 * ur + (0.05 + 0.12 * prot) * jaw) * hs
    bottom = (1 - tuck) * 0.42 * jaw * hs + tuck * (top + 0.035 * hs)
    mid = 0.5 * (top + bottom)
    half_gap = (0.5 * (bottom - top)).clamp_min(0.0)
    top, bottom = mid - half_gap, mid + half_gap

    u_in = X / half_w_in
    s_in = _sgnpow(1 - u_in.abs().pow(1.8 + 1.4 * wid), 0.5 + 0.35 * wid)
    s_pos = s_in.clamp_min(0.0)
    u = X / half_w
    au = u.abs()
    w_up = _sgnpow(1 - au.pow(2.4), 0.7 - 0.15 * prot)
    w_lo = _sgnpow(1 - au.pow(2.0), 0.6 - 0.1 * prot)
    bow = 0.14 * _gauss(((au - 0.22) / 0.14) ** 2) - 0.22 * _gauss((u / 0.09) ** 2)
    thick_up = 0.16 * hs * th * (1 + 0.1 * prot)
    thick_lo = 0.21 * hs * th * (1 + 0.1 * prot) * (1 - 0.45 * tuck)
    y_in_top = top * s_in
    y_in_bot = bottom * s_in
    y_out_top = top * s_pos - thick_up * w_up * (1 + bow)
    y_out_bot = bottom * s_pos + thick_lo * w_lo

    cavity = _strip(_distance(Y - y_in_top), _distance(y_in_bot - Y))
    outer = _strip(_distance(Y - y_out_top), _distance(y_out_bot - Y))
    lips = (outer - cavity).clamp_min(0.0)

    # --- skin ------------------------------------------------------------------------------
    texture = _texture(tex, sx, sy, cr, sr, scale, style.mouth_y, gx[0], gy[:, 0])
    skin = style.skin_tone * (1 + texture)
    corner = _gauss(((X.abs() - 1.02 * half_w) / 0.06) ** 2 + (Y / 0.09) ** 2)
    lip_lo_c = bottom + thick_lo  # lower lip's outer edge at the centre
    fold_y = lip_lo_c + 0.10 * hs - 0.05 * u**2
    fold = _gauss(((Y - fold_y) / 0.05) ** 2 + (X / (0.8 * half_w)) ** 2)
    chin_light = _sigmoid((Y - fold_y - 0.12) / 0.06) * _gauss((X / 0.7) ** 2)
    lip_up_c = top - thick_up
    philtrum = (
        _gauss((X / 0.045) ** 2)
        * ((lip_up_c - Y) / 0.25).clamp(0, 1)
        * ((Y - lip_up_c + 0.45) / 0.2).clamp(0, 1)
    )
    ridges = _gauss(((X.abs() - 0.075) / 0.025) ** 2) * ((lip_up_c - Y) / 0.25).clamp(0, 1)
    nose = _sigmoid((-0.82 - Y) / 0.05) * _gauss((X / 0.5) ** 2)
    skin = skin * (
        1
        - 0.2 * corner
        - 0.14 * fold
        - 0.04 * philtrum
        - 0.35 * nose
        + 0.02 * ridges
        + 0.05 * chin_light
    )

    # --- lips --------------------------------------------------------------------------------
    y_seam = mid * s_pos
    upper_w = (0.5 + (y_seam - Y) / pix).clamp(0.0, 1.0)
    lo_span = (y_out_bot - y_in_bot.clamp_min(y_seam)).clamp_min(1e-3)
    hl_centre = y_in_bot.clamp_min(y_seam) + 0.45 * lo_span
    highlight = _gauss(((Y - hl_centre) / (0.3 * lo_span)) ** 2) * (1 - au**2).clamp_min(0)
    lip = (
        style.lip_tone
        * (1 + 0.08 * prot)
        * (1 - 0.2 * au**4)
        * (upper_w * 0.84 + (1 - upper_w) * (1 + 0.12 * highlight))
    )
    lip = lip * (1 + 0.015 * torch.cos(2 * np.pi * X / (0.08 * half_w)))
    seam = _gauss(((Y - y_seam) / (0.8 * pix)) ** 2) * (au < 1).float()
    lip = lip * (1 - 0.5 * seam)

    # --- inside the mouth -------------------------------------------------------------------
    depth = torch.minimum(_distance(Y - y_in_top), _distance(y_in_bot - Y))
    inside = 0.05 + 0.10 * _gauss(depth.clamp_min(0) / 1.5)
    u_c = X / half_w_in
    tooth = X / (0.17 * half_w)
    gaps = _gauss(((tooth - torch.round(tooth)) / 0.09) ** 2)
    teeth_col = style.teeth_tone * (1 - 0.55 * u_c**2).clamp_min(0.15) * (1 - 0.35 * gaps)
    y_up_teeth = top + (0.03 + 0.10 * teeth) * hs - 0.12 * hs * u_c**2
    y_lo_teeth = bottom - (0.01 + 0.05 * teeth) * hs + 0.10 * hs * u_c**2
    up_teeth = _smooth_edge((y_up_teeth - Y) / pix)
    lo_teeth = _smooth_edge((Y - y_lo_teeth) / pix)
    gap_h = (bottom - top).clamp_min(1e-4)
    tongue_y = bottom - (0.25 + 0.6 * tongue) * gap_h
    tongue_hh = 0.25 * gap_h + 0.02 * hs * tongue + 1e-3
    tongue_hw = half_w_in * (0.5 + 0.2 * tongue)
    tongue_phi = 1 - torch.sqrt((X / tongue_hw) ** 2 + ((Y - tongue_y) / tongue_hh) ** 2)
    tongue_cov = _smooth_edge(_distance(tongue_phi)) * (0.3 + 0.7 * tongue)
    tongue_col = (0.75 * style.lip_tone + 0.08) * (
        1 + 0.15 * ((tongue_y - Y) / tongue_hh).clamp(-1, 1)
    )
    mouth = inside
    mouth = mouth + (teeth_col * 0.85 - mouth) * lo_teeth
    mouth = mouth + (tongue_col - mouth) * tongue_cov
    mouth = mouth + (teeth_col - mouth) * up_teeth

    image = skin * (1 - outer) + lip * lips + mouth * cavity
    # --- light (image coordinates) -----------------------------------------------------------
    light = gain * (1 + l_slope * (torch.cos(l_ang) * gx + torch.sin(l_ang) * gy))
    return image * light, cavity.sum(dim=(-1, -2))
