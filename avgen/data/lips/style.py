"""Who is speaking and how the camera sees them: speaker style, head motion, lighting.

* :func:`speaker_style` turns a speaker id into a fixed :class:`SpeakerStyle` (mouth size, lip
  thickness, tones, speaking-style exaggeration). It depends on the id only, never on the
  utterance seed: the same speaker always has the same mouth.
* :func:`scene_tracks` draws, from an utterance seed, smooth per-frame head motion (translation,
  in-plane rotation, scale drift) and lighting (gain, gamma, a moving illumination gradient).

Smooth random processes are sums of a few sinusoids with random frequencies (0.05-0.8 Hz) and
phases, scaled to a chosen standard deviation: band-limited, bounded, and cheap to evaluate at
any frame rate, so the same seed gives the same motion in seconds whatever the ``fps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avgen.seeding import derive_seed, numpy_generator


@dataclass(frozen=True, eq=False)
class SpeakerStyle:
    """Per-speaker appearance and speaking style (all dimensionless).

    Attributes:
        mouth_width: scale of the mouth's half-width (1 = 0.5 of the half-image).
        mouth_height: scale of vertical movements and lip thickness.
        lip_thickness: scale of both lips' thickness.
        skin_tone: skin grey level in [0, 1] before lighting.
        lip_tone: lip grey level (darker than skin).
        teeth_tone: teeth grey level.
        exaggeration: scales articulator movement away from the rest posture.
        mouth_y: vertical position of the lip line (image half-heights, + is down).
        texture: amplitudes/frequencies/phases of the static skin texture, ``(K, 4)``.
    """

    mouth_width: float
    mouth_height: float
    lip_thickness: float
    skin_tone: float
    lip_tone: float
    teeth_tone: float
    exaggeration: float
    mouth_y: float
    texture: np.ndarray


def speaker_style(speaker: str) -> SpeakerStyle:
    """The deterministic style of ``speaker`` (a function of the id alone)."""
    rng = numpy_generator(derive_seed(0, "lips-speaker", speaker))
    skin = rng.uniform(0.45, 0.8)
    k = 12
    freq = rng.uniform(1.5, 9.0, k)  # cycles per unit
    orient = rng.uniform(0, np.pi, k)
    tex = np.column_stack(
        [
            rng.uniform(0.002, 0.008, k) * 3.0 / np.sqrt(freq),  # amplitude, more at low freq
            freq * np.cos(orient),  # kx
            freq * np.sin(orient),  # ky
            rng.uniform(0, 2 * np.pi, k),  # phase
        ]
    )
    return SpeakerStyle(
        mouth_width=float(rng.uniform(0.85, 1.12)),
        mouth_height=float(rng.uniform(0.85, 1.15)),
        lip_thickness=float(rng.uniform(0.75, 1.3)),
        skin_tone=float(skin),
        lip_tone=float(skin * rng.uniform(0.6, 0.78)),
        teeth_tone=float(rng.uniform(0.78, 0.95)),
        exaggeration=float(rng.uniform(0.8, 1.2)),
        mouth_y=float(rng.uniform(-0.1, 0.02)),
        texture=tex,
    )


def smooth_process(
    rng: np.random.Generator,
    times: np.ndarray,
    std: float,
    n_components: int = 4,
    f_lo: float = 0.05,
    f_hi: float = 0.8,
) -> np.ndarray:
    """A zero-mean smooth random function of time with standard deviation ``std``.

    ``x(t) = std * sqrt(2 / K) * sum_k a_k cos(2 pi f_k t + phi_k)`` with ``f_k`` uniform on
    ``[f_lo, f_hi]`` Hz, ``phi_k`` uniform, and weights ``a_k`` normalised to unit power.
    """
    freqs = rng.uniform(f_lo, f_hi, n_components)
    phases = rng.uniform(0, 2 * np.pi, n_components)
    amps = rng.uniform(0.5, 1.0, n_components)
    amps /= np.sqrt(np.mean(amps**2))
    waves = np.cos(2 * np.pi * freqs[None] * times[:, None] + phases[None])
    return std * np.sqrt(2.0 / n_components) * (waves * amps[None]).sum(1)


@dataclass(frozen=True, eq=False)
class SceneTracks:
    """Per-frame head pose and lighting, each ``(n_frames,)`` unless said otherwise.

    Attributes:
        shift_x, shift_y: translation of the mouth (image half-widths).
        rotation: in-plane rotation in radians.
        scale: zoom factor around the mouth (1 = none).
        gain: brightness gain.
        light_angle: direction of the illumination gradient (radians).
        light_slope: gradient strength (relative change per image half-width).
        gamma: one gamma for the utterance (scalar).
    """

    shift_x: np.ndarray
    shift_y: np.ndarray
    rotation: np.ndarray
    scale: np.ndarray
    gain: np.ndarray
    light_angle: np.ndarray
    light_slope: np.ndarray
    gamma: float

    @classmethod
    def still(cls, n_frames: int) -> SceneTracks:
        """No motion, neutral light (for tests and figures)."""
        z = np.zeros(n_frames)
        return cls(z, z, z, z + 1.0, z + 1.0, z, z, 1.0)


def scene_tracks(
    times: np.ndarray, seed: int, *, motion: float = 1.0, lighting: float = 1.0
) -> SceneTracks:
    """Head motion and lighting at ``times`` (seconds) for the utterance ``seed``.

    ``motion`` and ``lighting`` scale the amount (0: still camera, neutral light). At 1:
    translation s.d. 0.03 (about 1 pixel of a 64-pixel image), rotation s.d. 2 degrees, scale
    s.d. 3 %, gain s.d. 6 % around an utterance gain in [0.85, 1.15], gamma in [0.8, 1.25],
    an illumination gradient of slope up to 0.2 turning slowly.
    """
    rng = numpy_generator(derive_seed(seed, "lips-scene"))
    t = np.asarray(times, dtype=np.float64)
    shift_x = motion * smooth_process(rng, t, 0.03)
    shift_y = motion * smooth_process(rng, t, 0.03)
    rotation = motion * smooth_process(rng, t, np.deg2rad(2.0))
    scale = 1.0 + motion * smooth_process(rng, t, 0.03)
    base_gain = rng.uniform(0.85, 1.15)
    gain = 1.0 + lighting * (base_gain - 1.0 + smooth_process(rng, t, 0.06))
    angle0 = rng.uniform(0, 2 * np.pi)
    light_angle = angle0 + smooth_process(rng, t, 0.6, f_lo=0.02, f_hi=0.3)
    slope = lighting * rng.uniform(0.05, 0.2) * np.ones_like(t)
    gamma = float(np.exp(lighting * rng.uniform(np.log(0.8), np.log(1.25))))
    return SceneTracks(shift_x, shift_y, rotation, scale, gain, light_angle, slope, gamma)
