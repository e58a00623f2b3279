"""Articulatory parameter tracks from phone timing, with coarticulation.

Cohen & Massaro's dominance model ("Modeling coarticulation in synthetic visual speech", in
*Models and Techniques in Computer Animation*, Springer 1993): every phone segment ``s`` pulls
each articulator ``p`` towards its viseme's target ``T[s, p]`` with a *dominance* that is
largest during the segment and decays exponentially away from it,

    D[s, p](t) = alpha[s, p] * exp(-theta_before[s, p] * max(0, c_s - h_s - t))
                             * exp(-theta_after[s, p]  * max(0, t - c_s - h_s)),

and the articulator follows the dominance-weighted average of all targets,

    F[p](t) = sum_s D[s, p](t) T[s, p] / sum_s D[s, p](t).

Here ``c_s`` is the segment's centre and ``h_s = rho * d_s / 2`` half the width of a flat top
(``rho = 0.5``: the inner half of the segment), a small change to the original's pointed
exponential (exponent ``c = 1``) which keeps long segments (pauses, long vowels) at their target
instead of letting the neighbours' tails pull them away. ``alpha``, ``theta_before`` and
``theta_after`` come from the viseme class (:mod:`avgen.data.lips.visemes`): strong, narrow
dominance where an articulator is critical (the jaw and lips of /p b m/ close the mouth even
between two open vowels), weak dominance where it is free (the rounding of /t/ or /s/), slow
anticipatory decay of the rounding of rounded vowels. Anticipatory rounding (lips already
rounded on the /s/ of "soon") therefore *emerges* from the weighted average; nothing is
scripted per context.

Diphthongs are two gestures, their first target for the first ``GLIDE_ONSET`` of the segment
and their glide target after (:data:`avgen.data.lips.visemes.DIPHTHONG_GLIDES`). Time before the
first and after the last segment is silence.

The tracks are a function of time only; sampling them at video frame times is the caller's
choice (:func:`articulator_tracks`). Everything is vectorised over (times x gestures x
articulators), in chunks of frames so that long recordings use bounded memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avgen.data.lips.visemes import (
    ARTICULATORS,
    DIPHTHONG_GLIDES,
    GLIDE_ONSET,
    REST_POSTURE,
    VISEME_BY_NAME,
    VISEME_NAMES,
    viseme_of,
)
from avgen.data.speech.phones import SILENCE, PhoneSegment, phone_at
from avgen.errors import VideoError

PLATEAU_FRACTION = 0.5
"""``rho``: fraction of each segment over which its dominance stays at its maximum."""

REACH_SECONDS = 1.2
"""Gestures farther than this from a time are ignored there (their weight is < 1e-4)."""

_ROUNDING = np.array([a in ("width", "protrusion") for a in ARTICULATORS])


@dataclass(frozen=True)
class Gestures:
    """Gesture arrays (one row per gesture) built from phone segments.

    Attributes:
        start, end: gesture interval in seconds, ``(G,)``.
        target: ``(G, P)`` articulator targets.
        strength: ``(G, P)`` dominance magnitudes ``alpha``.
        rate_before, rate_after: ``(G, P)`` decay rates in 1/s.
    """

    start: np.ndarray
    end: np.ndarray
    target: np.ndarray
    strength: np.ndarray
    rate_before: np.ndarray
    rate_after: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])


def check_phones(phones: Sequence[PhoneSegment]) -> None:
    """Raise :class:`VideoError` unless ``phones`` are usable for rendering.

    Requires canonical phone labels, finite times, ``start < end``, and segments in time order
    without overlap (gaps are allowed and rendered as silence).
    """
    prev_end = -np.inf
    for i, seg in enumerate(phones):
        if not isinstance(seg, PhoneSegment):
            raise VideoError(f"phones[{i}] is {type(seg).__name__}, expected a PhoneSegment")
        try:
            viseme_of(seg.phone)
        except KeyError:
            raise VideoError(
                f"phones[{i}]: unknown phone {seg.phone!r}; use canonical "
                "ARPAbet labels (avgen.data.speech.phones.normalize_phone)"
            ) from None
        if not (np.isfinite(seg.start) and np.isfinite(seg.end)):
            raise VideoError(f"phones[{i}] ({seg.phone}): times must be finite")
        if seg.end <= seg.start:
            raise VideoError(
                f"phones[{i}] ({seg.phone}): end {seg.end} is not after start {seg.start}"
            )
        if seg.start < prev_end - 1e-6:
            raise VideoError(
                f"phones[{i}] ({seg.phone}) starts at {seg.start} s, before the "
                f"previous segment ends ({prev_end} s); segments must be in "
                "time order without overlap"
            )
        prev_end = seg.end


def build_gestures(phones: Sequence[PhoneSegment], duration: float | None = None) -> Gestures:
    """Gestures of ``phones`` (diphthongs split in two), padded with silence at both ends.

    A silence gesture is added before the first segment and after the last one (up to
    ``duration`` if later), unless the segment there is already silence.
    """
    check_phones(phones)
    rows: list[tuple[str, float, float]] = []
    for seg in phones:
        if seg.phone in DIPHTHONG_GLIDES:
            first, glide = DIPHTHONG_GLIDES[seg.phone]
            mid = seg.start + GLIDE_ONSET * seg.duration
            rows += [(first, seg.start, mid), (glide, mid, seg.end)]
        else:
            rows.append((viseme_of(seg.phone), seg.start, seg.end))
    t0 = rows[0][1] if rows else 0.0
    t1 = rows[-1][2] if rows else 0.0
    end = max(t1, duration or 0.0)
    if not rows or rows[0][0] != "silence":
        rows.insert(0, ("silence", min(t0, 0.0) - 0.5, t0))
    if rows[-1][0] != "silence" or end > t1:
        rows.append(("silence", t1, end + 0.5))
    n = len(rows)
    n_art = len(ARTICULATORS)
    target = np.empty((n, n_art))
    strength = np.empty((n, n_art))
    before = np.empty((n, n_art))
    after = np.empty((n, n_art))
    for i, (name, _, _) in enumerate(rows):
        v = VISEME_BY_NAME[name]
        target[i] = v.target
        strength[i] = v.strength
        before[i] = v.anticipation
        if v.rounding_anticipation is not None:
            before[i, _ROUNDING] = v.rounding_anticipation
        after[i] = v.carryover
    return Gestures(
        start=np.array([r[1] for r in rows]),
        end=np.array([r[2] for r in rows]),
        target=target,
        strength=strength,
        rate_before=before,
        rate_after=after,
    )


def dominance_blend(
    gestures: Gestures, times: np.ndarray, plateau: float = PLATEAU_FRACTION, chunk: int = 512
) -> np.ndarray:
    """Evaluate ``F[p](t)`` (module docstring) at ``times``; returns ``(len(times), P)``."""
    times = np.asarray(times, dtype=np.float64)
    out = np.empty((times.shape[0], gestures.target.shape[1]))
    centre = 0.5 * (gestures.start + gestures.end)
    half = 0.5 * plateau * (gestures.end - gestures.start)
    lo_edge = centre - half  # dominance is flat on [lo_edge, hi_edge]
    hi_edge = centre + half
    order = np.argsort(gestures.start)
    starts_sorted = gestures.start[order]
    for a in range(0, times.shape[0], chunk):
        t = times[a : a + chunk]
        # gestures that can matter: start before t_max + reach and end after t_min - reach
        last = np.searchsorted(starts_sorted, t.max() + REACH_SECONDS, side="right")
        idx = order[:last]
        idx = idx[gestures.end[idx] > t.min() - REACH_SECONDS]
        if idx.size == 0:  # pragma: no cover - silence padding always covers the range
            idx = order
        before = np.maximum(lo_edge[idx][None, :] - t[:, None], 0.0)  # (n, G)
        after = np.maximum(t[:, None] - hi_edge[idx][None, :], 0.0)
        log_d = (
            np.log(gestures.strength[idx])[None]
            - gestures.rate_before[idx][None] * before[..., None]
            - gestures.rate_after[idx][None] * after[..., None]
        )  # (n, G, P)
        log_d -= log_d.max(axis=1, keepdims=True)  # stable: the strongest weighs 1
        w = np.exp(log_d)
        out[a : a + chunk] = (w * gestures.target[idx][None]).sum(1) / w.sum(1)
    return out


def exaggerate(tracks: np.ndarray, factor: float) -> np.ndarray:
    """Scale the movement away from :data:`REST_POSTURE` by ``factor`` (clipped to [0, 1])."""
    rest = np.asarray(REST_POSTURE)
    return np.clip(rest + factor * (tracks - rest), 0.0, 1.0)


def articulator_tracks(
    phones: Sequence[PhoneSegment],
    times: np.ndarray,
    *,
    exaggeration: float = 1.0,
    duration: float | None = None,
) -> np.ndarray:
    """Articulator values ``(len(times), 7)`` at ``times`` (seconds), columns in the order of
    :data:`avgen.data.lips.visemes.ARTICULATORS`."""
    gestures = build_gestures(phones, duration)
    tracks = dominance_blend(gestures, np.asarray(times, dtype=np.float64))
    return exaggerate(tracks, exaggeration) if exaggeration != 1.0 else tracks


def viseme_labels(phones: Sequence[PhoneSegment], times: np.ndarray) -> np.ndarray:
    """Class index (into :data:`VISEME_NAMES`) of the phone sounding at each time (silence
    outside the segments)."""
    names = phone_at(list(phones), [float(t) for t in np.asarray(times)])
    return np.array(
        [VISEME_NAMES.index(viseme_of(p if p else SILENCE)) for p in names], dtype=np.int64
    )
