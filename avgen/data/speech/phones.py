"""Phone segments: the timing that links speech to rendered lips.

Every source of timing (flite ``-psdur``, festival segment files, libespeak-ng phoneme events,
pocketsphinx forced alignment) is normalised to one phone set: lower-case ARPAbet without
stress marks (39 phones of CMUdict) plus ``"pau"`` for silence. Phones of other languages
(espeak-ng) are mapped to their nearest ARPAbet phone, which is all the lip renderer needs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avgen.files import write_text_atomic

ARPABET: tuple[str, ...] = (
    "aa",
    "ae",
    "ah",
    "ao",
    "aw",
    "ay",
    "b",
    "ch",
    "d",
    "dh",
    "eh",
    "er",
    "ey",
    "f",
    "g",
    "hh",
    "ih",
    "iy",
    "jh",
    "k",
    "l",
    "m",
    "n",
    "ng",
    "ow",
    "oy",
    "p",
    "r",
    "s",
    "sh",
    "t",
    "th",
    "uh",
    "uw",
    "v",
    "w",
    "y",
    "z",
    "zh",
)
SILENCE = "pau"
PHONE_SET: frozenset[str] = frozenset((*ARPABET, SILENCE))

# Radio/festival phones that are not in CMUdict's 39, and silence spellings of other tools.
_ALIASES: dict[str, str] = {
    "ax": "ah",
    "axr": "er",
    "ix": "ih",
    "el": "l",
    "em": "m",
    "en": "n",
    "nx": "n",
    "dx": "t",
    "hv": "hh",
    "ux": "uw",
    "h#": SILENCE,
    "sil": SILENCE,
    "sp": SILENCE,
    "#": SILENCE,
    "_": SILENCE,
    "brth": SILENCE,
    "ssil": SILENCE,
    "+nsn+": SILENCE,
    "+spn+": SILENCE,
    "+breath+": SILENCE,
    "+cough+": SILENCE,
    "+noise+": SILENCE,
    "h": "hh",
}


def normalize_phone(phone: str) -> str:
    """Map a phone label of flite/festival/pocketsphinx to the canonical set.

    Lower-cases, strips stress digits (``AH0`` -> ``ah``) and maps aliases; raises
    ``ValueError`` for a label it does not know.
    """
    p = phone.strip().lower().rstrip("012")
    p = _ALIASES.get(p, p)
    if p not in PHONE_SET:
        raise ValueError(f"unknown phone label {phone!r}")
    return p


@dataclass(frozen=True)
class PhoneSegment:
    """One phone from ``start`` to ``end`` seconds (canonical label)."""

    phone: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def segments_from_endtimes(pairs: Iterable[tuple[str, float]]) -> list[PhoneSegment]:
    """Build segments from ``(phone, end_time)`` pairs, as flite and festival report them."""
    segments: list[PhoneSegment] = []
    start = 0.0
    for phone, end in pairs:
        end = float(end)
        if end > start:
            segments.append(PhoneSegment(normalize_phone(phone), start, end))
            start = end
    return merge_silences(segments)


def merge_silences(segments: Sequence[PhoneSegment]) -> list[PhoneSegment]:
    """Merge consecutive silence segments into one."""
    out: list[PhoneSegment] = []
    for seg in segments:
        if out and seg.phone == SILENCE and out[-1].phone == SILENCE:
            out[-1] = PhoneSegment(SILENCE, out[-1].start, seg.end)
        else:
            out.append(seg)
    return out


def cover_with_silence(segments: Sequence[PhoneSegment], duration: float) -> list[PhoneSegment]:
    """Fill gaps and the ends with silence so that segments tile ``[0, duration]``."""
    out: list[PhoneSegment] = []
    t = 0.0
    for seg in segments:
        if seg.start > t + 1e-6:
            out.append(PhoneSegment(SILENCE, t, seg.start))
        start = max(seg.start, t)
        if seg.end > start:
            out.append(PhoneSegment(seg.phone, start, seg.end))
            t = seg.end
    if duration > t + 1e-6:
        out.append(PhoneSegment(SILENCE, t, duration))
    return merge_silences(out)


def fit_to_duration(segments: Sequence[PhoneSegment], duration: float) -> list[PhoneSegment]:
    """Make the segments end exactly at ``duration`` seconds: segments starting after it are
    dropped, the last one is clipped, and a gap before the end becomes silence. (Synthesizers'
    clocks are right, but a final pause may be cut short in the audio or run a little past
    the reported end; label files may outlast trimmed audio.)"""
    out = [
        PhoneSegment(s.phone, s.start, min(s.end, duration)) for s in segments if s.start < duration
    ]
    if not out:
        return [PhoneSegment(SILENCE, 0.0, duration)]
    last = out[-1]
    if last.end < duration:
        if last.phone == SILENCE:
            out[-1] = PhoneSegment(SILENCE, last.start, duration)
        else:
            out.append(PhoneSegment(SILENCE, last.end, duration))
    return out


def phone_at(segments: Sequence[PhoneSegment], times: Sequence[float]) -> list[str]:
    """The phone sounding at each time (silence outside the segments)."""
    import bisect

    starts = [s.start for s in segments]
    out = []
    for t in times:
        i = bisect.bisect_right(starts, t) - 1
        out.append(segments[i].phone if 0 <= i < len(segments) and t < segments[i].end else SILENCE)
    return out


def save_phones(path: str | os.PathLike[str], segments: Sequence[PhoneSegment]) -> None:
    """Write segments as JSON ``[[phone, start, end], ...]`` (atomic)."""
    rows = [[s.phone, round(s.start, 5), round(s.end, 5)] for s in segments]
    write_text_atomic(path, json.dumps(rows) + "\n")


def load_phones(path: str | os.PathLike[str]) -> list[PhoneSegment]:
    """Read segments written by :func:`save_phones`."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    return [PhoneSegment(str(p), float(a), float(b)) for p, a, b in rows]
