"""Classical unsupervised speech enhancement: minimum-statistics noise tracking, decision-directed
a priori SNR, Wiener (or log-MMSE) gain.

The reference point every learned enhancer must beat, with no training and no noise example:

1. STFT: sine window of 512 samples (32 ms), hop 256 (the window squared sums to one at this
   hop, so weighted overlap-add reconstructs exactly).
2. Noise PSD by **minimum statistics** (R. Martin, "Noise power spectral density estimation
   based on optimal smoothing and minimum statistics", IEEE TSAP 9(5), 2001):
   the periodogram ``|Y|^2`` is smoothed recursively, ``P = a P + (1 - a) |Y|^2``, with a
   time-frequency smoothing parameter ``a = a_max a_c / (1 + (P / sigma^2 - 1)^2)`` that is
   optimal for a noise-only periodogram (eq. 7 of the paper; ``a_c`` corrects it from the
   ratio of total powers, ``a >= a_min``); the variance of ``P`` is tracked to get the
   equivalent degrees of freedom ``Q_eq = 2 sigma^4 / var(P)``, which set the bias
   compensation of the minimum of ``D`` correlated values, ``B_min = 1 + 2 (D - 1) / Q~_eq``
   with ``Q~_eq = (Q_eq - 2 M(D)) / (1 - M(D))``, and the global correction
   ``B_c = 1 + a_v sqrt(mean_k 1 / Q_eq)``; the minimum of ``P B_min B_c`` over a window of
   ``D = U V`` frames is found with ``U`` sub-windows of ``V`` frames, with the paper's
   rule for fast tracking of rising noise (``noise_slope_max``).
3. **Decision-directed** a priori SNR (Y. Ephraim & D. Malah, IEEE TASSP 32(6), 1984):
   ``xi = a_dd |S_prev|^2 / sigma^2 + (1 - a_dd) max(gamma - 1, 0)``, ``gamma = |Y|^2 /
   sigma^2``, floored at ``xi_min``.
4. Gain: **Wiener** ``G = xi / (1 + xi)``, or the **log-MMSE** estimator (Ephraim & Malah,
   IEEE TASSP 33(2), 1985) ``G = xi / (1 + xi) exp(E1(v) / 2)``, ``v = xi gamma / (1 + xi)``.

Both recursions are loops over frames vectorised over frequency, in numpy (one conversion in,
one out): about 5 ms per second of 16 kHz audio on one core, real-time factor 0.005
(``benchmarks/baselines.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, StftConfig, check_waveform, istft, stft
from avgen.errors import AudioError, ConfigError

WIENER_STFT = StftConfig(n_fft=512, hop_length=256, window="sine")
"""STFT of the baseline: sine window 512 (32 ms), hop 256 (16 ms), 257 bins."""

# M(D) of Martin (2001), Table III: the mean of the minimum of D independent chi^2 values,
# used in the bias correction; linear interpolation in between.
_M_TABLE_D = np.array([1, 2, 5, 8, 10, 15, 20, 30, 40, 60, 80, 120, 140, 160], dtype=np.float64)
_M_TABLE_M = np.array(
    [0.0, 0.26, 0.48, 0.58, 0.61, 0.668, 0.705, 0.762, 0.8, 0.841, 0.865, 0.89, 0.9, 0.91]
)


def martin_m(d: float) -> float:
    """``M(D)`` of Martin (2001), interpolated from the paper's table."""
    return float(np.interp(d, _M_TABLE_D, _M_TABLE_M))


@dataclass(frozen=True)
class MinimumStatistics:
    """Parameters of Martin's (2001) noise tracker (the paper's values, for 16 ms frames).

    ``subwindows`` (U) x ``subwindow_frames`` (V) = D = 96 frames = 1.5 s at hop 256.
    """

    subwindows: int = 8
    subwindow_frames: int = 12
    alpha_max: float = 0.96
    alpha_min: float = 0.3
    beta_max: float = 0.8
    a_v: float = 2.12

    @property
    def window_frames(self) -> int:
        """D, the length of the minimum search window in frames."""
        return self.subwindows * self.subwindow_frames


def noise_psd_minimum_statistics(
    power: np.ndarray, params: MinimumStatistics = MinimumStatistics()
) -> np.ndarray:
    """Noise PSD ``sigma^2`` per frame and bin from a periodogram ``power`` of shape (T, F).

    Martin (2001), section IV and Fig. 5, vectorised over frequency; initialised as Martin's
    reference implementation (``sigma^2 = 0.7 |Y_0|^2``, empty minimum buffer). The lower
    bound of the smoothing parameter is the constant ``alpha_min`` = 0.3 (the paper's
    SNR-dependent bound evaluates to 0.3 at this hop for any long-term SNR up to 20 dB).
    Returns (T, F), > 0.
    """
    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 2 or power.shape[0] < 1:
        raise ConfigError("power must be a (frames, bins) array")
    tiny = 1e-20 * max(float(power.max()), 1e-30)
    power = np.maximum(power, tiny)
    n_frames, n_bins = power.shape
    U, V, D = params.subwindows, params.subwindow_frames, params.window_frames
    m_d, m_v = martin_m(D), martin_m(V)

    p_smooth = power[0].copy()
    sigma2 = 0.7 * power[0]
    p_bar = power[0].copy()
    p2_bar = power[0] ** 2
    alpha_c = 0.9
    act_min = np.full(n_bins, np.inf)
    act_min_sub = np.full(n_bins, np.inf)
    p_min_u = power[0].copy()
    buffer = np.full((U, n_bins), np.inf)
    buf_idx = 0
    lmin_flag = np.zeros(n_bins, dtype=bool)
    subwc = 1
    out = np.empty_like(power)
    out[0] = np.maximum(sigma2, tiny)
    for lam in range(1, n_frames):
        y2 = power[lam]
        # smoothing parameter (eqs. 7-10)
        ratio = p_smooth.sum() / y2.sum()
        alpha_c_tilde = 1.0 / (1.0 + (ratio - 1.0) ** 2)
        alpha_c = 0.7 * alpha_c + 0.3 * max(alpha_c_tilde, 0.7)
        alpha = params.alpha_max * alpha_c / (1.0 + (p_smooth / sigma2 - 1.0) ** 2)
        alpha = np.maximum(alpha, params.alpha_min)
        p_smooth = alpha * p_smooth + (1.0 - alpha) * y2
        # variance of the smoothed periodogram and equivalent degrees of freedom (eqs. 22-28)
        beta = np.minimum(alpha**2, params.beta_max)
        p_bar = beta * p_bar + (1.0 - beta) * p_smooth
        p2_bar = beta * p2_bar + (1.0 - beta) * p_smooth**2
        var_p = np.maximum(p2_bar - p_bar**2, 0.0)
        q_inv = np.clip(var_p / (2.0 * sigma2**2), 1e-12, 0.5)
        q_eq = 1.0 / q_inv
        b_min = 1.0 + (D - 1) * 2.0 / np.maximum((q_eq - 2.0 * m_d) / (1.0 - m_d), 1e-6)
        b_min_sub = 1.0 + (V - 1) * 2.0 / np.maximum((q_eq - 2.0 * m_v) / (1.0 - m_v), 1e-6)
        q_inv_mean = float(q_inv.mean())
        b_c = 1.0 + params.a_v * np.sqrt(q_inv_mean)
        # minimum search (Fig. 5)
        candidate = p_smooth * b_min * b_c
        k_mod = candidate < act_min
        act_min = np.where(k_mod, candidate, act_min)
        act_min_sub = np.where(k_mod, p_smooth * b_min_sub * b_c, act_min_sub)
        if subwc == V:
            lmin_flag &= ~k_mod
            buffer[buf_idx] = act_min
            buf_idx = (buf_idx + 1) % U
            p_min_u = buffer.min(axis=0)
            if q_inv_mean < 0.03:
                slope_max = 8.0
            elif q_inv_mean < 0.05:
                slope_max = 4.0
            elif q_inv_mean < 0.06:
                slope_max = 2.0
            else:
                slope_max = 1.2
            replace = lmin_flag & (act_min_sub < slope_max * p_min_u) & (act_min_sub > p_min_u)
            p_min_u = np.where(replace, act_min_sub, p_min_u)
            buffer[:, replace] = act_min_sub[replace]
            lmin_flag[:] = False
            subwc = 1
            act_min = np.full(n_bins, np.inf)  # act_min_sub is overwritten at the next frame
        else:
            if subwc > 1:
                lmin_flag |= k_mod
            subwc += 1
        sigma2 = np.maximum(np.minimum(act_min_sub, p_min_u), tiny)
        p_min_u = sigma2
        out[lam] = sigma2
    return out


def decision_directed_gain(
    power: np.ndarray,
    noise_psd: np.ndarray,
    *,
    alpha_dd: float = 0.98,
    xi_min_db: float = -25.0,
    rule: Literal["wiener", "logmmse"] = "wiener",
) -> np.ndarray:
    """Spectral gains (T, F) from the periodogram and the noise PSD, decision-directed.

    ``xi_t = alpha_dd G_{t-1}^2 |Y_{t-1}|^2 / sigma_t^2 + (1 - alpha_dd) max(gamma_t - 1, 0)``,
    floored at ``10^(xi_min_db / 10)``; then the Wiener or log-MMSE gain (module docstring).
    """
    from scipy.special import exp1

    if rule not in ("wiener", "logmmse"):
        raise ConfigError(f"unknown gain rule {rule!r}; use 'wiener' or 'logmmse'")
    if not 0.0 <= alpha_dd < 1.0:
        raise ConfigError(f"alpha_dd must be in [0, 1), got {alpha_dd}")
    power = np.asarray(power, dtype=np.float64)
    noise_psd = np.asarray(noise_psd, dtype=np.float64)
    xi_min = 10.0 ** (xi_min_db / 10.0)
    gains = np.empty_like(power)
    prev_clean = np.zeros(power.shape[1])
    for t in range(power.shape[0]):
        gamma = power[t] / noise_psd[t]
        xi = alpha_dd * prev_clean / noise_psd[t] + (1.0 - alpha_dd) * np.maximum(gamma - 1.0, 0.0)
        xi = np.maximum(xi, xi_min)
        g = xi / (1.0 + xi)
        if rule == "logmmse":
            v = np.maximum(xi * gamma / (1.0 + xi), 1e-10)
            g = g * np.exp(0.5 * exp1(v))
        gains[t] = g
        prev_clean = g**2 * power[t]
    return gains


def wiener_enhance(
    noisy: np.ndarray | torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    *,
    rule: Literal["wiener", "logmmse"] = "wiener",
    alpha_dd: float = 0.98,
    xi_min_db: float = -25.0,
    params: MinimumStatistics = MinimumStatistics(),
) -> np.ndarray | torch.Tensor:
    """Enhance mono noisy speech without any training or noise example.

    Minimum-statistics noise PSD, decision-directed a priori SNR, Wiener (default) or
    log-MMSE gain on the :data:`WIENER_STFT` STFT; see the module docstring for the maths.
    Returns the same type as ``noisy`` (numpy array, or a float tensor on its device) and the
    same length. The STFT parameters assume 16 kHz; another rate raises AudioError.
    """
    if int(sample_rate) != SAMPLE_RATE:
        raise AudioError(
            f"wiener_enhance is tuned for {SAMPLE_RATE} Hz audio, got "
            f"{sample_rate} Hz; resample first with avgen.audio.resample"
        )
    is_torch = isinstance(noisy, torch.Tensor)
    x = (
        noisy.detach().to("cpu", torch.float64)
        if is_torch
        else torch.from_numpy(np.asarray(noisy, dtype=np.float64))
    )
    check_waveform(x, name="noisy", min_samples=WIENER_STFT.n_fft)
    spec = stft(x, WIENER_STFT)  # (F, T)
    power = spec.abs().square().T.numpy()  # (T, F)
    noise_psd = noise_psd_minimum_statistics(power, params)
    gains = decision_directed_gain(
        power, noise_psd, alpha_dd=alpha_dd, xi_min_db=xi_min_db, rule=rule
    )
    enhanced = istft(spec * torch.from_numpy(gains.T), WIENER_STFT, length=x.shape[-1])
    if is_torch:
        return enhanced.to(
            device=noisy.device, dtype=noisy.dtype if noisy.is_floating_point() else torch.float32
        )
    out_dtype = noisy.dtype if np.issubdtype(np.asarray(noisy).dtype, np.floating) else np.float32
    return enhanced.numpy().astype(out_dtype)
