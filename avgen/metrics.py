"""Speech-quality and room-acoustics metrics, each with its exact definition.

Which number a paper reports matters more than how it is computed, so every function here
names its definition and its reference, and the policies that surround it (lengths, rates,
silence, epsilon) are stated once, below, and shared by all metrics.

Speech quality (reference = clean, estimate = processed):

* :func:`pesq_wb` -- wide-band PESQ, ITU-T P.862.2 MOS-LQO, from the ``pesq`` package
  (mode ``'wb'``). Not ``pypesq``, whose numbers differ.
* :func:`estoi` -- extended STOI (Jensen & Taal, 2016) from ``pystoi`` (``extended=True``).
* :func:`si_sdr` -- zero-mean scale-invariant SDR in dB (Le Roux et al., 2019), torch, batched.
* :func:`stft_distance` -- the magnitude-STFT distance of AViTAR (Chen et al., 2022).

Room acoustics:

* :func:`rt60_schroeder` -- T60 from Schroeder's backward-integrated energy decay curve with a
  least-squares line between -5 dB and -(5 + decay_db) dB, extrapolated to -60 dB: the
  definition of ``pyroomacoustics.experimental.measure_rt60``.
* :func:`rt60_bands` -- the same per octave band (Butterworth bank, time-reversed filtering).
* :func:`rt60_error` -- absolute and relative error of an RT60 estimate.
* :func:`direct_to_reverberant_ratio` -- DRR of an impulse response in dB.

Policies shared by the signal metrics:

* **Length.** Reference and estimate may differ by at most ``max_length_mismatch`` samples
  (default :data:`MAX_LENGTH_MISMATCH` = 1024, one 64 ms VAE window: inverse STFTs round
  lengths to a hop). Within that tolerance the longer signal is trimmed at the end to the
  shorter; beyond it, :class:`~avgen.errors.AudioError`. Pass ``max_length_mismatch=0`` to
  demand equal lengths.
* **Rate.** PESQ-WB, ESTOI and the AViTAR distance are defined at 16 kHz here; any other
  ``sample_rate`` raises :class:`~avgen.errors.AudioError` (resample first with
  :func:`avgen.audio.resample`, and say so in what you report).
* **Bad input.** Non-finite samples, empty or multi-channel arrays, and a silent reference
  raise :class:`~avgen.errors.AudioError` instead of returning a meaningless number.
(About 310 lines of code: every metric the project reports in one place, so that a reader finds
each one's exact definition beside the others.)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import AudioError, ConfigError

MAX_LENGTH_MISMATCH = 1024
"""Default tolerance, in samples, for a length difference between reference and estimate."""

SI_SDR_EPS = 1e-8
"""Epsilon added to both energies of :func:`si_sdr` (see its docstring)."""

OCTAVE_BANDS: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)
"""Default octave-band centre frequencies (Hz) of :func:`rt60_bands` at 16 kHz."""

AVITAR_STFT = {"n_fft": 512, "hop_length": 160, "win_length": 400}
"""STFT of the AViTAR distance (Hamming window of ``win_length``, 16 kHz)."""

METRICS: tuple[str, ...] = ("pesq_wb", "estoi", "si_sdr", "stft_distance")
"""Names :func:`evaluate` accepts."""

ArrayLike = np.ndarray | torch.Tensor


# ----------------------------------------------------------------------------------------------
# Input checks and the length policy
# ----------------------------------------------------------------------------------------------


def _to_numpy_1d(x: ArrayLike | Sequence[float], name: str) -> np.ndarray:
    """Mono, finite, non-empty 1-D float array (dtype kept when it is a float dtype)."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise AudioError(f"{name}: expected mono audio (one dimension), got shape {arr.shape}")
    if arr.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples)")
    if not np.all(np.isfinite(arr)):
        raise AudioError(f"{name}: the audio holds NaN or infinite samples")
    return arr


def _check_rate(sample_rate: int, metric: str) -> None:
    if int(sample_rate) != SAMPLE_RATE:
        raise AudioError(
            f"{metric} is computed at {SAMPLE_RATE} Hz here, got {sample_rate} Hz; "
            "resample both signals with avgen.audio.resample first"
        )


def match_lengths(
    reference: ArrayLike, estimate: ArrayLike, max_length_mismatch: int = MAX_LENGTH_MISMATCH
) -> tuple[ArrayLike, ArrayLike]:
    """Apply the length policy along the last axis: trim the longer to the shorter if the
    lengths differ by at most ``max_length_mismatch`` samples, else raise AudioError."""
    n_ref, n_est = reference.shape[-1], estimate.shape[-1]
    if n_ref == n_est:
        return reference, estimate
    if abs(n_ref - n_est) > max_length_mismatch:
        raise AudioError(
            f"reference has {n_ref} samples and estimate {n_est}: they differ by "
            f"more than {max_length_mismatch} samples; align or cut them first"
        )
    n = min(n_ref, n_est)
    return reference[..., :n], estimate[..., :n]


# ----------------------------------------------------------------------------------------------
# PESQ and ESTOI (wrappers that turn failures into clear errors)
# ----------------------------------------------------------------------------------------------


def pesq_wb(
    reference: ArrayLike,
    estimate: ArrayLike,
    sample_rate: int = SAMPLE_RATE,
    *,
    max_length_mismatch: int = MAX_LENGTH_MISMATCH,
) -> float:
    """Wide-band PESQ (ITU-T P.862.2), MOS-LQO on the scale 1.04 .. 4.64.

    Computed by the ``pesq`` package (``pesq.pesq(16000, ref, deg, 'wb')``, the ITU reference
    C code) on the signals as given (same dtype, after the length policy), so the number is
    exactly the package's. Raises :class:`AudioError` when the rate is not 16 kHz, when a
    signal is shorter than 0.25 s, when the reference or the estimate is all zeros, or when
    PESQ's voice activity detector finds no utterance.
    """
    import pesq as pesq_pkg

    _check_rate(sample_rate, "PESQ-WB")
    ref = _to_numpy_1d(reference, "reference")
    est = _to_numpy_1d(estimate, "estimate")
    ref, est = match_lengths(ref, est, max_length_mismatch)
    if ref.size < SAMPLE_RATE // 4:
        raise AudioError(
            f"PESQ needs at least 0.25 s of audio ({SAMPLE_RATE // 4} samples), got {ref.size}"
        )
    if not np.any(ref):
        raise AudioError(
            "PESQ: the reference is silent (all zeros); there is no speech to compare with"
        )
    if not np.any(est):
        raise AudioError(
            "PESQ: the estimate is silent (all zeros); PESQ is undefined for it "
            "(the ITU code fails on it)"
        )
    try:
        return float(pesq_pkg.pesq(SAMPLE_RATE, ref, est, "wb"))
    except pesq_pkg.NoUtterancesError:
        raise AudioError(
            "PESQ found no utterance in the signals (silence, or speech too "
            "quiet for its voice activity detector); check the reference"
        ) from None
    except (pesq_pkg.PesqError, ValueError) as exc:
        raise AudioError(f"PESQ failed on these signals: {exc}") from None


def estoi(
    reference: ArrayLike,
    estimate: ArrayLike,
    sample_rate: int = SAMPLE_RATE,
    *,
    max_length_mismatch: int = MAX_LENGTH_MISMATCH,
) -> float:
    """Extended short-time objective intelligibility (Jensen & Taal, IEEE/ACM TASLP 2016).

    ``pystoi.stoi(ref, est, sample_rate, extended=True)``: resampling to 10 kHz, removal of
    frames 40 dB below the loudest, one-third-octave envelopes over 384 ms segments, row- and
    column-normalised correlation. Range about -1 .. 1 (higher is better). Raises
    :class:`AudioError` where pystoi would warn and return 1e-5: fewer than 30 frames of
    speech remain after silence removal (about 0.4 s).
    """
    from pystoi import stoi

    _check_rate(sample_rate, "ESTOI")
    ref = _to_numpy_1d(reference, "reference")
    est = _to_numpy_1d(estimate, "estimate")
    ref, est = match_lengths(ref, est, max_length_mismatch)
    if not np.any(ref):
        raise AudioError("ESTOI: the reference is silent (all zeros)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi(ref, est, SAMPLE_RATE, extended=True))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise AudioError(
            "ESTOI needs at least 30 frames (about 0.4 s) of speech after silence "
            "removal; the reference is too short or too quiet"
        )
    return value


# ----------------------------------------------------------------------------------------------
# SI-SDR and the AViTAR STFT distance (torch, batched)
# ----------------------------------------------------------------------------------------------


def _as_tensor(x: ArrayLike | Sequence[float]) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.asarray(x))


def si_sdr(
    reference: ArrayLike,
    estimate: ArrayLike,
    *,
    eps: float = SI_SDR_EPS,
    max_length_mismatch: int = MAX_LENGTH_MISMATCH,
) -> torch.Tensor:
    r"""Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., ICASSP 2019).

    Both signals are made zero-mean over the last axis; with :math:`s` the reference and
    :math:`\hat s` the estimate,

    .. math::
        \alpha = \frac{\langle \hat s, s\rangle}{\|s\|^2},\qquad
        \mathrm{SI\text{-}SDR} = 10\log_{10}\frac{\|\alpha s\|^2}{\|\alpha s - \hat s\|^2}
        = 10\log_{10}\frac{\rho^2}{1 - \rho^2},\qquad
        \rho^2 = \frac{\langle \hat s, s\rangle^2}{\|s\|^2\,\|\hat s\|^2}.

    Epsilon policy: the value computed is :math:`10\log_{10}((\rho^2 + \epsilon) /
    (1 - \rho^2 + \epsilon))` -- the same as adding :math:`\epsilon \|\hat s\|^2` to both
    energies -- so it stays exactly invariant to the scale of either signal, is bounded by
    about :math:`\pm 10\log_{10}(1/\epsilon)` (+-80 dB at the default 1e-8: a perfect
    estimate is finite, a zero estimate, for which :math:`\rho^2 := 0`, gives about -80 dB);
    it moves a value by about :math:`4.34\,\epsilon\,(1/\rho^2 + 1/(1 - \rho^2))` dB, less than
    1e-4 dB within +-30 dB and less than 0.005 dB within +-50 dB. A reference with zero
    energy after mean removal makes SI-SDR undefined and raises :class:`AudioError`.

    Batched over leading dimensions (they broadcast); returns a tensor of the leading shape
    (0-dim for 1-D inputs), differentiable, computed in float64 and returned in the inputs'
    floating dtype.
    """
    ref = _as_tensor(reference)
    est = _as_tensor(estimate)
    if ref.is_complex() or est.is_complex():
        raise AudioError("si_sdr expects real waveforms")
    if not (torch.isfinite(ref).all() and torch.isfinite(est).all()):
        raise AudioError("si_sdr: the signals hold NaN or infinite samples")
    out_dtype = torch.promote_types(ref.dtype, est.dtype)
    if not out_dtype.is_floating_point:
        out_dtype = torch.get_default_dtype()
    ref, est = match_lengths(ref, est, max_length_mismatch)
    ref = ref.to(torch.float64)
    est = est.to(device=ref.device, dtype=torch.float64)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    est = est - est.mean(dim=-1, keepdim=True)
    ref_energy = ref.square().sum(dim=-1)
    if bool((ref_energy == 0).any()):
        raise AudioError(
            "si_sdr: a reference is constant (zero energy after removing its "
            "mean); SI-SDR is undefined"
        )
    est_energy = est.square().sum(dim=-1)
    cross = (est * ref).sum(dim=-1)
    safe_est_energy = torch.where(est_energy > 0, est_energy, torch.ones_like(est_energy))
    rho2 = torch.where(
        est_energy > 0,
        cross.square() / (ref_energy * safe_est_energy),
        torch.zeros_like(est_energy),
    ).clamp(0.0, 1.0)
    return (10.0 * torch.log10((rho2 + eps) / (1.0 - rho2 + eps))).to(out_dtype)


def peak_normalize(x: torch.Tensor) -> torch.Tensor:
    """``x / max|x|`` over the last axis (all-zero signals are left as they are)."""
    peak = x.abs().amax(dim=-1, keepdim=True)
    return x / torch.where(peak > 0, peak, torch.ones_like(peak))


def avitar_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``|STFT(x)|`` as AViTAR evaluates it: n_fft 512, hop 160, periodic Hamming window of
    400 samples, centred frames with zero padding; ``(..., N)`` -> ``(..., 257, T)``."""
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(
        flat,
        n_fft=AVITAR_STFT["n_fft"],
        hop_length=AVITAR_STFT["hop_length"],
        win_length=AVITAR_STFT["win_length"],
        window=torch.hamming_window(AVITAR_STFT["win_length"], device=x.device, dtype=x.dtype),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.abs().reshape(*lead, *spec.shape[-2:])


def stft_distance(
    reference: ArrayLike,
    estimate: ArrayLike,
    sample_rate: int = SAMPLE_RATE,
    *,
    max_length_mismatch: int = MAX_LENGTH_MISMATCH,
) -> torch.Tensor:
    r"""Magnitude-STFT distance of AViTAR (Chen et al., "Visual Acoustic Matching", CVPR 2022).

    .. math::
        D = \frac{1}{F T}\sum_{f,t} \big(|X_{ft}| - |\hat X_{ft}|\big)^2

    where ``X`` and ``\hat X`` are the STFTs (:func:`avitar_magnitude`: n_fft 512, hop 160,
    Hamming 400, centred, zero padded) of the **peak-normalised** 16 kHz signals
    (``x / max|x|``, each signal on its own, as their data loader normalises waveforms). Their
    evaluation pads or crops every clip to one fixed length; here the length policy of this
    module applies instead (trim to the shorter within the tolerance). This is the
    ``mag_distance`` of their code; their ``stft_distance`` key computes the same MSE on
    real and imaginary parts, which the paper does not report. Lower is better; 0 for
    identical signals and invariant to the gain of either signal.

    Batched over leading dimensions; returns a float32/float64 tensor of the leading shape.
    """
    _check_rate(sample_rate, "The AViTAR STFT distance")
    ref = _as_tensor(reference)
    est = _as_tensor(estimate)
    if not (torch.isfinite(ref).all() and torch.isfinite(est).all()):
        raise AudioError("stft_distance: the signals hold NaN or infinite samples")
    dtype = torch.promote_types(ref.dtype, est.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    ref, est = match_lengths(
        ref.to(dtype), est.to(device=ref.device, dtype=dtype), max_length_mismatch
    )
    ref, est = torch.broadcast_tensors(ref, est)
    diff = avitar_magnitude(peak_normalize(ref)) - avitar_magnitude(peak_normalize(est))
    return diff.square().mean(dim=(-2, -1))


# ----------------------------------------------------------------------------------------------
# Reverberation time and direct-to-reverberant ratio
# ----------------------------------------------------------------------------------------------


def energy_decay_curve_db(rir: np.ndarray) -> np.ndarray:
    r"""Schroeder's backward-integrated energy decay curve in dB, 0 dB at the first sample.

    .. math:: \mathrm{EDC}(n) = 10\log_{10}\frac{\sum_{m\ge n} h[m]^2}{\sum_{m} h[m]^2}

    (Schroeder, JASA 37(3), 1965). The all-zero tail (if any) is dropped, so the curve ends
    at the last non-zero sample.
    """
    h = np.asarray(rir, dtype=np.float64)
    energy = np.cumsum(h[::-1] ** 2)[::-1]
    nonzero = np.flatnonzero(energy > 0)
    if nonzero.size == 0:
        raise AudioError("the impulse response is all zeros")
    energy = energy[: nonzero[-1] + 1]
    return 10.0 * np.log10(energy / energy[0])


def rt60_schroeder(rir: ArrayLike, sample_rate: int, decay_db: float = 30.0) -> float:
    """Reverberation time T60 in seconds by Schroeder backward integration.

    Definition (the one of ``pyroomacoustics.experimental.measure_rt60``, and of ISO 3382-1's
    T20/T30 up to the choice of the fit): on the energy decay curve
    (:func:`energy_decay_curve_db`), take the first sample below -5 dB (level ``e5``) and the
    first sample below ``e5 - decay_db``; fit a least-squares line ``EDC(t) = a t + b`` to the
    samples in between; T60 = ``-60 / a`` (the fitted decay extrapolated to 60 dB).
    ``decay_db=30`` gives T30, ``20`` gives T20, ``60`` measures the full 60 dB. If the curve
    spans less than ``decay_db + 5`` dB, ``decay_db`` shrinks to the available range, as in
    pyroomacoustics. Raises :class:`AudioError` if the response never decays by 5 dB.
    """
    h = _to_numpy_1d(rir, "impulse response")
    if sample_rate <= 0:
        raise ConfigError(f"sample_rate must be positive, got {sample_rate}")
    if decay_db <= 0:
        raise ConfigError(f"decay_db must be positive, got {decay_db}")
    edc = energy_decay_curve_db(h)
    dynamic_range = -float(edc.min())
    if dynamic_range - 5.0 < decay_db:
        decay_db = dynamic_range
    below_5 = np.flatnonzero(edc < -5.0)
    if below_5.size == 0:
        raise AudioError("the impulse response decays by less than 5 dB; no RT60 can be fitted")
    i_start = int(below_5[0])
    below_end = np.flatnonzero(edc < edc[i_start] - decay_db)
    i_stop = int(below_end[0]) if below_end.size else edc.size
    segment = edc[i_start:i_stop]
    if segment.size < 2:
        raise AudioError("the energy decay curve has too few samples in the fit range")
    t = np.arange(segment.size, dtype=np.float64) / float(sample_rate)
    slope, _ = np.polyfit(t, segment, 1)
    if slope >= 0:
        raise AudioError("the energy decay curve does not decay in the fit range")
    return float(-60.0 / slope)


def octave_band_filter(center: float, sample_rate: int, order: int = 3) -> np.ndarray:
    """Second-order sections of a Butterworth band-pass for the octave band at ``center`` Hz
    (edges ``center / sqrt 2`` and ``center * sqrt 2``; ``order`` poles per edge)."""
    from scipy.signal import butter

    low, high = center / math.sqrt(2.0), center * math.sqrt(2.0)
    nyquist = sample_rate / 2.0
    if high >= nyquist:
        raise ConfigError(
            f"the octave band at {center:g} Hz reaches {high:.0f} Hz, above the "
            f"Nyquist frequency {nyquist:g} Hz of {sample_rate} Hz audio"
        )
    return butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")


def rt60_bands(
    rir: ArrayLike,
    sample_rate: int,
    *,
    centers: Sequence[float] = OCTAVE_BANDS,
    decay_db: float = 30.0,
    filter_order: int = 3,
) -> dict[float, float]:
    """T60 per octave band: ``{centre frequency in Hz: T60 in s}``.

    Each band is the impulse response filtered by :func:`octave_band_filter` (Butterworth,
    ``filter_order`` per edge) **in reverse time** -- the response is reversed, filtered and
    reversed back -- so that the filter's own ringing falls before the onset instead of
    lengthening the decay (the practice ISO 3382-1 recommends for short reverberation times in
    narrow bands); then :func:`rt60_schroeder` with ``decay_db``.
    """
    from scipy.signal import sosfilt

    h = _to_numpy_1d(rir, "impulse response").astype(np.float64)
    out: dict[float, float] = {}
    for fc in centers:
        sos = octave_band_filter(float(fc), sample_rate, filter_order)
        band = sosfilt(sos, h[::-1])[::-1]
        out[float(fc)] = rt60_schroeder(band, sample_rate, decay_db=decay_db)
    return out


class Rt60Error(NamedTuple):
    """Error of an RT60 estimate: ``absolute = |est - true|`` (s), ``relative = absolute /
    true`` (a fraction, not a percentage)."""

    absolute: float | np.ndarray
    relative: float | np.ndarray


def rt60_error(
    estimate: float | np.ndarray | Mapping[float, float],
    truth: float | np.ndarray | Mapping[float, float],
) -> Rt60Error:
    """Absolute and relative error of RT60 estimates (elementwise for arrays; for two band
    dictionaries, arrays in the order of ``truth``'s keys)."""
    if isinstance(truth, Mapping):
        if not isinstance(estimate, Mapping) or set(estimate) != set(truth):
            raise ConfigError("rt60_error: band dictionaries must have the same bands")
        keys = list(truth)
        est_arr = np.array([estimate[k] for k in keys], dtype=np.float64)
        true_arr = np.array([truth[k] for k in keys], dtype=np.float64)
    else:
        est_arr = np.asarray(estimate, dtype=np.float64)
        true_arr = np.asarray(truth, dtype=np.float64)
    if np.any(true_arr <= 0):
        raise ConfigError("rt60_error: true RT60 values must be positive")
    absolute = np.abs(est_arr - true_arr)
    relative = absolute / true_arr
    if absolute.ndim == 0:
        return Rt60Error(float(absolute), float(relative))
    return Rt60Error(absolute, relative)


def direct_to_reverberant_ratio(
    rir: ArrayLike, sample_rate: int, *, direct_index: int | None = None, window_ms: float = 2.5
) -> float:
    r"""Direct-to-reverberant energy ratio of an impulse response, in dB.

    .. math:: \mathrm{DRR} = 10\log_{10}\frac{\sum_{|n-n_d|\le w} h[n]^2}
              {\sum_{n > n_d + w} h[n]^2}

    with ``n_d`` the direct-path sample (``direct_index``; by default the largest
    ``|h[n]|``) and ``w`` = ``window_ms`` (2.5 ms, the usual half-width, as in the ACE
    challenge) in samples.
    """
    h = _to_numpy_1d(rir, "impulse response").astype(np.float64)
    nd = int(np.argmax(np.abs(h))) if direct_index is None else int(direct_index)
    if not 0 <= nd < h.size:
        raise ConfigError(f"direct_index {nd} is outside the response ({h.size} samples)")
    w = round(window_ms * 1e-3 * sample_rate)
    direct = float(np.sum(h[max(nd - w, 0) : nd + w + 1] ** 2))
    reverberant = float(np.sum(h[nd + w + 1 :] ** 2))
    if reverberant == 0.0:
        raise AudioError("the impulse response has no energy after its direct path")
    if direct == 0.0:
        raise AudioError("the impulse response has no energy at its direct path")
    return 10.0 * math.log10(direct / reverberant)


# ----------------------------------------------------------------------------------------------
# All at once
# ----------------------------------------------------------------------------------------------


def evaluate(
    reference: ArrayLike,
    estimate: ArrayLike,
    sample_rate: int = SAMPLE_RATE,
    metrics: Sequence[str] = ("pesq_wb", "estoi", "si_sdr"),
    *,
    max_length_mismatch: int = MAX_LENGTH_MISMATCH,
) -> dict[str, float]:
    """Several metrics of one (reference, estimate) pair of mono signals, as plain floats.

    ``metrics`` are names from :data:`METRICS`: ``"pesq_wb"`` (:func:`pesq_wb`),
    ``"estoi"`` (:func:`estoi`), ``"si_sdr"`` (:func:`si_sdr`, dB),
    ``"stft_distance"`` (:func:`stft_distance`). The length policy is applied once, so
    every metric sees the same samples.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(
            f"unknown metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(METRICS)}"
        )
    ref = _to_numpy_1d(reference, "reference")
    est = _to_numpy_1d(estimate, "estimate")
    ref, est = match_lengths(ref, est, max_length_mismatch)
    results: dict[str, float] = {}
    for name in metrics:
        if name == "pesq_wb":
            results[name] = pesq_wb(ref, est, sample_rate)
        elif name == "estoi":
            results[name] = estoi(ref, est, sample_rate)
        elif name == "si_sdr":
            results[name] = float(si_sdr(torch.from_numpy(ref), torch.from_numpy(est)))
        elif name == "stft_distance":
            results[name] = float(
                stft_distance(torch.from_numpy(ref), torch.from_numpy(est), sample_rate)
            )
    return results
