"""Active speech level (ITU-T P.56, method B), mixing at a given SNR, and a kit's mixtures.

SNR definition
--------------
Throughout avgen, the SNR of a mixture is

    SNR = L_speech - L_noise,   L_speech = P.56 active speech level of the clean speech (dB),
                                L_noise  = 10 log10( mean(b^2) ) over the noise samples used,

i.e. the active speech level over the noise RMS, both in dB relative to full scale 1.0. Using the
active level (not the plain RMS of the whole utterance) makes the SNR independent of how much
silence surrounds the speech, as in ITU-T P.56 and the test sets of the speech-enhancement
literature.

P.56 method B (ITU-T Rec. P.56 (12/2011), section B; the algorithm of ``sv56`` in ITU-T G.191)
---------------------------------------------------------------------------------------------
With ``g = exp(-1 / (fs T))``, ``T = 0.03 s``, two one-pole smoothers give the envelope::

    p[n] = g p[n-1] + (1 - g) |x[n]|          q[n] = g q[n-1] + (1 - g) p[n].

For a threshold ``c`` a sample is *active* when ``q`` reached ``c`` at that sample or within the
preceding hangover ``I = ceil(H fs)`` samples (``H = 0.2 s``), i.e. when
``m[n] = max(q[n-I], ..., q[n]) >= c``. With ``a(c)`` the number of active samples and
``s = sum x[n]^2``, the active level at threshold ``c`` is ``A(c) = 10 log10(s / a(c))`` and
the threshold in dB is ``C(c) = 20 log10 c``. The active speech level is the value of ``A`` at
the threshold where ``A(c) - C(c) = M``, the margin ``M = 15.9 dB``. The activity factor is
``a(c*) / N``.

Deviation from sv56, stated: sv56 evaluates ``a(c)`` at fixed absolute thresholds ``2^j``
(6 dB apart, for 16-bit integers) and interpolates between the two that bracket the margin.
Here the thresholds form a fine grid (``threshold_step_db``, 0.25 dB by default) relative to
the envelope's maximum, spanning ``threshold_range_db`` below it, and the crossing is found by
linear interpolation of ``A - C`` between the bracketing thresholds. Relative thresholds make
the measure exactly scale-equivariant (``level(k x) = level(x) + 20 log10 k``), and the fine grid
makes the interpolation error negligible (< 0.01 dB on a tone burst). ``a(c)`` is computed for
all thresholds at once from the sorted running maximum ``m``, without a per-sample loop.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

from avgen.audio import SAMPLE_RATE, check_waveform
from avgen.data.kit.records import (
    MixtureRecord,
    NoiseRecord,
    UtteranceRecord,
    read_jsonl,
    write_jsonl,
)
from avgen.errors import AudioError, ConfigError, DataError
from avgen.seeding import derive_seed, numpy_generator

P56_TIME_CONSTANT_S = 0.03
P56_HANGOVER_S = 0.2
P56_MARGIN_DB = 15.9


@dataclass(frozen=True)
class SpeechLevel:
    """Result of :func:`active_speech_level`.

    Attributes:
        level_db: active speech level, ``10 log10`` of the mean square over active samples
            (dB re full scale 1.0; a full-scale sine is -3.01 dB).
        activity: fraction of samples that are active (the P.56 activity factor).
        threshold_db: the threshold ``C`` (dB) at which ``A - C`` equals the margin.
        long_term_db: ``10 log10`` of the mean square over all samples (the plain RMS level).
    """

    level_db: float
    activity: float
    threshold_db: float
    long_term_db: float

    @property
    def mean_square(self) -> float:
        """The active level as a mean square (linear power)."""
        return 10.0 ** (self.level_db / 10.0)


def _envelope(x: np.ndarray, sample_rate: int, time_constant_s: float) -> np.ndarray:
    """The two-stage smoothed envelope ``q`` of P.56 (float64)."""
    g = math.exp(-1.0 / (sample_rate * time_constant_s))
    p = lfilter([1.0 - g], [1.0, -g], np.abs(x))
    return lfilter([1.0 - g], [1.0, -g], p)


def _trailing_max(q: np.ndarray, window: int) -> np.ndarray:
    """``m[n] = max(q[max(0, n - window + 1)], ..., q[n])`` (the hangover of P.56)."""
    if window <= 1:
        return q
    # maximum_filter1d centres its window; shift it so it ends at n.
    origin = (window - 1) // 2
    return maximum_filter1d(q, size=window, mode="constant", cval=-np.inf, origin=origin)


def active_speech_level(
    x: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    margin_db: float = P56_MARGIN_DB,
    hangover_s: float = P56_HANGOVER_S,
    time_constant_s: float = P56_TIME_CONSTANT_S,
    threshold_step_db: float = 0.25,
    threshold_range_db: float = 120.0,
) -> SpeechLevel:
    """Active speech level of ``x`` by ITU-T P.56 method B (see the module docstring).

    Args:
        x: mono waveform (any float scale).
        sample_rate: in Hz.
        margin_db, hangover_s, time_constant_s: the constants of P.56 (15.9 dB, 0.2 s, 0.03 s).
        threshold_step_db: spacing of the threshold grid.
        threshold_range_db: how far below the envelope's maximum the grid reaches.

    Raises:
        AudioError: ``x`` is not mono, empty, non-finite or silent.
    """
    arr = np.asarray(x, dtype=np.float64)
    check_waveform(arr, name="speech", min_samples=1)
    n = arr.size
    sum_sq = float(np.dot(arr, arr))
    q = _envelope(arr, sample_rate, time_constant_s)
    m = np.sort(_trailing_max(q, math.ceil(hangover_s * sample_rate) + 1))
    m_max = float(m[-1])
    if m_max <= 0.0:  # pragma: no cover - check_waveform rejects silence
        raise AudioError("speech: the audio is silent")

    # Thresholds ascending, from threshold_range_db below the envelope maximum up to it.
    n_thr = round(threshold_range_db / threshold_step_db) + 1
    c_db = 20.0 * math.log10(m_max) + np.linspace(-threshold_range_db, 0.0, n_thr)
    c = 10.0 ** (c_db / 20.0)
    active = n - np.searchsorted(m, c, side="left")  # a(c): samples with m >= c
    active = np.maximum(active, 1)
    a_db = 10.0 * np.log10(sum_sq / active)
    delta = a_db - c_db  # decreasing in c

    below = np.nonzero(delta <= margin_db)[0]
    long_term_db = 10.0 * math.log10(sum_sq / n)
    if below.size == 0:
        # Even at the envelope's maximum A - C exceeds the margin (a lone click): take the top.
        j = n_thr - 1
        return SpeechLevel(float(a_db[j]), float(active[j] / n), float(c_db[j]), long_term_db)
    j = int(below[0])
    if j == 0:
        return SpeechLevel(float(a_db[0]), float(active[0] / n), float(c_db[0]), long_term_db)
    # Linear interpolation of (C, A) between thresholds j-1 and j where A - C = margin.
    t = (delta[j - 1] - margin_db) / (delta[j - 1] - delta[j])
    level = a_db[j - 1] + t * (a_db[j] - a_db[j - 1])
    thr = c_db[j - 1] + t * (c_db[j] - c_db[j - 1])
    return SpeechLevel(
        float(level), float(sum_sq / (n * 10.0 ** (level / 10.0))), float(thr), long_term_db
    )


# ----------------------------------------------------------------------------------------------
# Noise segments and looping
# ----------------------------------------------------------------------------------------------


def crossfade_length(
    n_noise: int, sample_rate: int = SAMPLE_RATE, crossfade_s: float = 0.05
) -> int:
    """Crossfade used to loop a clip of ``n_noise`` samples: ``crossfade_s``, at most 1/4 clip."""
    return max(0, min(round(crossfade_s * sample_rate), n_noise // 4))


def loop_period(n_noise: int, sample_rate: int = SAMPLE_RATE, crossfade_s: float = 0.05) -> int:
    """Period of the looped extension of a clip of ``n_noise`` samples (clip minus crossfade)."""
    return n_noise - crossfade_length(n_noise, sample_rate, crossfade_s)


def noise_segment(
    noise: np.ndarray,
    length: int,
    offset: int,
    *,
    sample_rate: int = SAMPLE_RATE,
    crossfade_s: float = 0.05,
) -> np.ndarray:
    """``length`` samples of ``noise`` from ``offset``, looping the clip if it is too short.

    If ``offset + length <= len(noise)`` the segment is ``noise[offset:offset + length]``.
    Otherwise the clip is extended periodically with period ``P = len(noise) - L``: one period
    is ``noise[:P]`` whose first ``L`` samples are an equal-power crossfade
    (``sin``/``cos`` ramps, right for uncorrelated material) from the clip's tail
    ``noise[P:P+L]`` into its head ``noise[:L]``, so the seam is continuous; the segment starts
    at ``offset mod P`` of that periodic signal. ``L`` is :func:`crossfade_length`.
    """
    noise = np.asarray(noise)
    n = noise.size
    if length < 0 or offset < 0:
        raise ConfigError(f"noise segment: length ({length}) and offset ({offset}) must be >= 0")
    if n == 0:
        raise AudioError("noise: the clip is empty")
    if offset + length <= n:
        return noise[offset : offset + length]
    fade = crossfade_length(n, sample_rate, crossfade_s)
    period = n - fade
    tile = noise[:period].astype(np.float64, copy=True)
    if fade > 0:
        ramp = (np.arange(fade) + 0.5) / fade * (math.pi / 2)
        tile[:fade] = noise[:fade] * np.sin(ramp) + noise[period : period + fade] * np.cos(ramp)
    idx = (offset + np.arange(length)) % period
    return tile[idx].astype(noise.dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Mixing
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mixture:
    """A mixture made by :func:`mix_at_snr`; unpacks as ``noisy, scaled_noise, offset``.

    ``noisy = clean + noise`` exactly (float32 rounding aside), where ``clean = gain * input``
    and ``noise = gain * noise_scale_before_gain * segment``.

    Attributes:
        noisy: the mixture (float32).
        noise: the scaled noise inside ``noisy`` (float32).
        offset: first noise sample used.
        gain: the peak safeguard's common gain on speech and noise (1.0 when nothing clipped).
        clean: the clean speech as it sits in ``noisy`` (``gain`` times the input).
        snr_db: the SNR achieved (equals the target up to float rounding).
        speech_level_db: P.56 active level of the input speech (before ``gain``).
        noise_scale: the factor applied to the noise segment (``gain`` included).
        looped: whether the noise clip had to be looped.
    """

    noisy: np.ndarray
    noise: np.ndarray
    offset: int
    gain: float
    clean: np.ndarray
    snr_db: float
    speech_level_db: float
    noise_scale: float
    looped: bool

    def __iter__(self) -> Iterator[object]:
        return iter((self.noisy, self.noise, self.offset))


def draw_offset(
    n_noise: int,
    n_speech: int,
    rng: np.random.Generator,
    *,
    sample_rate: int = SAMPLE_RATE,
    crossfade_s: float = 0.05,
) -> int:
    """A uniform offset: within the clip when it is long enough, else within one loop period."""
    if n_noise >= n_speech:
        return int(rng.integers(0, n_noise - n_speech + 1))
    return int(rng.integers(0, loop_period(n_noise, sample_rate, crossfade_s)))


def mix_at_snr(
    clean: np.ndarray,
    noise: np.ndarray,
    snr_db: float,
    *,
    offset: int | None = None,
    rng: np.random.Generator | int | None = None,
    sample_rate: int = SAMPLE_RATE,
    crossfade_s: float = 0.05,
    peak_limit: float = 0.99,
) -> Mixture:
    """Mix ``clean`` speech with ``noise`` at ``snr_db`` (active speech level over noise RMS).

    The noise segment is ``len(clean)`` samples from ``offset`` (drawn uniformly with ``rng``
    when ``None``; see :func:`noise_segment` for looping), scaled by
    ``k = sqrt(10^((L_s - snr)/10) / mean(segment^2))`` with ``L_s`` the P.56 active level of
    ``clean``. If ``max|clean + k segment| > peak_limit``, both are multiplied by a common
    ``gain = peak_limit / max|.|`` (the SNR is unchanged; the gain is returned).

    Returns:
        a :class:`Mixture`, which unpacks as ``(noisy, scaled_noise, offset)``.

    Raises:
        AudioError: unusable clean speech or noise, or a silent noise segment.
        ConfigError: neither ``offset`` nor ``rng`` given, or a bad ``offset``.
    """
    speech = np.asarray(clean, dtype=np.float64)
    check_waveform(speech, name="clean speech", min_samples=1)
    noise_arr = np.asarray(noise, dtype=np.float64)
    check_waveform(noise_arr, name="noise", min_samples=1)
    if not math.isfinite(snr_db):
        raise ConfigError(f"SNR must be a finite number of dB, got {snr_db}")
    if offset is None:
        if rng is None:
            raise ConfigError(
                "mix_at_snr: pass `offset` or `rng` (a seed or numpy Generator) "
                "so the noise segment is reproducible"
            )
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        offset = draw_offset(
            noise_arr.size, speech.size, gen, sample_rate=sample_rate, crossfade_s=crossfade_s
        )
    offset = int(offset)
    if not 0 <= offset < noise_arr.size:
        raise ConfigError(f"noise offset {offset} is outside the clip (0..{noise_arr.size - 1})")
    looped = offset + speech.size > noise_arr.size
    segment = noise_segment(
        noise_arr, speech.size, offset, sample_rate=sample_rate, crossfade_s=crossfade_s
    )
    noise_ms = float(np.dot(segment, segment)) / segment.size
    if noise_ms <= 0.0:
        raise AudioError(
            f"noise: the segment at offset {offset} is silent; choose another offset or clip"
        )
    level = active_speech_level(speech, sample_rate).level_db
    scale = math.sqrt(10.0 ** ((level - snr_db) / 10.0) / noise_ms)
    scaled = scale * segment
    mix = speech + scaled
    peak = float(np.max(np.abs(mix)))
    gain = min(1.0, peak_limit / peak) if peak > 0 else 1.0
    achieved = level - 10.0 * math.log10(scale * scale * noise_ms)
    return Mixture(
        noisy=(gain * mix).astype(np.float32),
        noise=(gain * scaled).astype(np.float32),
        offset=offset,
        gain=gain,
        clean=(gain * speech).astype(np.float32),
        snr_db=achieved,
        speech_level_db=level,
        noise_scale=gain * scale,
        looped=looped,
    )


# ----------------------------------------------------------------------------------------------
# Planning and rendering the mixtures of a kit
# ----------------------------------------------------------------------------------------------


def snr_tag(snr_db: float) -> str:
    """``+5dB``, ``-2.5dB``: the SNR part of a mixture id."""
    return f"{snr_db:+g}dB"


def plan_mixtures(
    utterances: Sequence[UtteranceRecord],
    noises: Sequence[NoiseRecord],
    split: str,
    snrs: Sequence[float],
    per_utterance: int | None = None,
    seed: int = 0,
    *,
    noise_splits: Sequence[str] = ("unseen", "seen"),
) -> list[MixtureRecord]:
    """Plan the noisy mixtures of ``split``: which noise clip, where, at which SNR.

    Every utterance of ``split`` is paired with every (noise type, SNR) combination, the types
    being those of the clips whose noise split is in ``noise_splits``. With
    ``per_utterance = k`` each utterance gets only ``k`` combinations instead: a seeded
    permutation of all combinations is dealt out cyclically over the utterances (sorted by id),
    so every type and SNR is used about equally often. For each mixture the clip of the type is
    drawn in proportion to its duration (more material, more use), and the offset uniformly
    (:func:`draw_offset`), from ``derive_seed(seed, "mixture", utterance_id, type, snr)``:
    a mixture does not change when other utterances are added or removed.

    Returns records with ``wav = mixtures/<split>/<id>.wav`` and ``gain = 1.0`` (set by
    :func:`render_mixtures`), sorted by utterance, then type, then SNR.

    Raises:
        DataError: no utterance in ``split``, or no noise clip in ``noise_splits``.
        ConfigError: no SNR, duplicate SNRs, or ``per_utterance < 1``.
    """
    utts = sorted((u for u in utterances if u.split == split), key=lambda u: u.id)
    if not utts:
        raise DataError(f"no utterances in split {split!r} to mix")
    snr_list = [float(s) for s in snrs]
    if not snr_list or len({snr_tag(s) for s in snr_list}) != len(snr_list):
        raise ConfigError(f"need distinct SNRs, got {list(snrs)}")
    clips: dict[str, list[NoiseRecord]] = {}
    for rec in sorted(noises, key=lambda r: r.id):
        if rec.split in noise_splits:
            clips.setdefault(rec.type, []).append(rec)
    if not clips:
        raise DataError(f"no noise clips in noise split(s) {tuple(noise_splits)} to mix with")
    combos = [(t, s) for t in sorted(clips) for s in snr_list]
    if per_utterance is None or per_utterance >= len(combos):
        chosen = [combos] * len(utts)
    else:
        if per_utterance < 1:
            raise ConfigError(f"per_utterance must be >= 1, got {per_utterance}")
        perm = numpy_generator(derive_seed(seed, "mixture-combos", split)).permutation(len(combos))
        chosen = [
            sorted(
                combos[int(perm[(i * per_utterance + j) % len(combos)])]
                for j in range(per_utterance)
            )
            for i in range(len(utts))
        ]
    plan = []
    for utt, pairs in zip(utts, chosen):
        n_speech = round(utt.duration * SAMPLE_RATE)
        for noise_type, snr in pairs:
            rng = numpy_generator(derive_seed(seed, "mixture", utt.id, noise_type, snr))
            pool = clips[noise_type]
            weights = np.array([max(c.duration, 1e-9) for c in pool])
            clip = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
            offset = draw_offset(round(clip.duration * SAMPLE_RATE), n_speech, rng)
            mix_id = f"{utt.id}_{noise_type}_{snr_tag(snr)}"
            plan.append(
                MixtureRecord(
                    id=mix_id,
                    split=split,
                    utterance_id=utt.id,
                    noise_id=clip.id,
                    noise_type=noise_type,
                    noise_split=clip.split,
                    snr_db=snr,
                    noise_offset=offset,
                    wav=f"mixtures/{split}/{mix_id}.wav",
                    clean=utt.wav,
                    lips=utt.lips,
                )
            )
    return plan


def render_mixtures(
    root: str | os.PathLike[str],
    plan: Sequence[MixtureRecord],
    *,
    progress_enabled: bool | None = None,
) -> list[MixtureRecord]:
    """Make the planned mixtures of kit ``root`` and write them with their manifests.

    Reads the clean speech (``record.clean``) and the noise clip (``noise/noises.jsonl``) from
    the kit, mixes with :func:`mix_at_snr` at the planned offset, writes
    ``record.wav`` (16-bit) and ``mixtures/<split>.jsonl`` for every split in ``plan`` (all
    atomically). Returns the records with the peak-safeguard ``gain`` filled in.
    Deterministic: the same plan gives the same files.

    Raises:
        DataError: a noise id that the kit does not list; AudioError: unusable audio.
    """
    from avgen.audio import load_audio, save_audio
    from avgen.progress import progress

    kit = Path(root)
    noise_index = {r.id: r for r in read_jsonl(kit / "noise" / "noises.jsonl", NoiseRecord)}
    noise_cache: dict[str, np.ndarray] = {}
    done: list[MixtureRecord] = []
    for rec in progress(plan, desc="mixtures", enabled=progress_enabled):
        if rec.noise_id not in noise_index:
            raise DataError(
                f"{kit}: mixture {rec.id} uses noise {rec.noise_id!r}, which "
                "noise/noises.jsonl does not list"
            )
        if rec.noise_id not in noise_cache:
            noise_cache[rec.noise_id] = load_audio(kit / noise_index[rec.noise_id].wav).numpy()
        clean = load_audio(kit / rec.clean).numpy()
        mix = mix_at_snr(clean, noise_cache[rec.noise_id], rec.snr_db, offset=rec.noise_offset)
        save_audio(kit / rec.wav, mix.noisy)
        done.append(replace(rec, gain=float(mix.gain)))
    for split in sorted({r.split for r in done}):
        write_jsonl(kit / "mixtures" / f"{split}.jsonl", [r for r in done if r.split == split])
    return done
