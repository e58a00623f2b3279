r"""Weighted prediction error (WPE) dereverberation, single channel, in torch.

Model (Nakatani et al., "Speech dereverberation based on variance-normalized delayed linear
prediction", IEEE TASLP 18(7), 2010; Yoshioka & Nakatani, "Generalization of multi-channel
linear prediction methods for blind MIMO impulse response shortening", IEEE TASLP 20(10),
2012): in each STFT bin ``f``, the late reverberation of frame ``t`` is predicted linearly from
the frames at least ``delay`` frames in the past,

.. math::
    x_t = y_t - \mathbf g^H \tilde{\mathbf y}_t,\qquad
    \tilde{\mathbf y}_t = [y_{t-\Delta}, \dots, y_{t-\Delta-K+1}]^T,

and the desired signal is modelled as a zero-mean complex Gaussian with a time-varying
variance, :math:`x_t \sim \mathcal N_c(0, \lambda_t)`. Maximum likelihood alternates

.. math::
    \lambda_t = \max(|x_t|^2, \epsilon),\qquad
    \mathbf R = \sum_t \frac{\tilde{\mathbf y}_t \tilde{\mathbf y}_t^H}{\lambda_t},\quad
    \mathbf r = \sum_t \frac{\tilde{\mathbf y}_t y_t^*}{\lambda_t},\quad
    \mathbf g = \mathbf R^{-1}\mathbf r,

starting from :math:`x = y` (``psd_context`` > 0 averages :math:`|x|^2` over that many
neighbouring frames on each side). The ``delay`` keeps the direct path and early reflections
(``delay`` x hop = 32 ms by default), which WPE does not try to remove. All bins and batch
items are solved at once (batched ``K x K`` systems, complex128), on the input's device.
"""

from __future__ import annotations

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, StftConfig, check_waveform, istft, stft
from avgen.errors import AudioError, ConfigError

WPE_STFT = StftConfig(n_fft=1024, hop_length=256, window="hann")
"""STFT of WPE: periodic Hann 1024 (64 ms), hop 256 (16 ms), 513 bins. Measured on flite
speech in a simulated room with T30 = 0.57 s, this resolution with 10 taps after a delay of 2
frames gained 1.4 dB SI-SDR over the reverberant input (target: direct path + 50 ms), against
0.3-1.0 dB for nara_wpe's usual 512/128 with 10 taps after 3 frames."""


def _delayed_stack(y: torch.Tensor, taps: int, delay: int) -> torch.Tensor:
    """``(..., F, T)`` -> ``(..., F, K, T)`` with ``[..., k, t] = y[..., t - delay - k]``
    (zero before the first frame)."""
    n_frames = y.shape[-1]
    padded = torch.nn.functional.pad(y, (delay + taps - 1, 0))
    return torch.stack(
        [padded[..., taps - 1 - k : taps - 1 - k + n_frames] for k in range(taps)], dim=-2
    )


def _window_mean(power: torch.Tensor, context: int) -> torch.Tensor:
    """Mean over ``t - context .. t + context`` (fewer terms at the edges)."""
    if context == 0:
        return power
    padded = torch.nn.functional.pad(power, (context + 1, context))
    csum = padded.cumsum(-1)
    ones = torch.nn.functional.pad(torch.ones_like(power), (context + 1, context)).cumsum(-1)
    width = 2 * context + 1
    total = csum[..., width:] - csum[..., :-width]
    count = ones[..., width:] - ones[..., :-width]
    return total / count


def _solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched ``a^-1 b``; least squares where a system is singular (a silent bin)."""
    sol, info = torch.linalg.solve_ex(a, b)
    bad = info != 0
    if bool(bad.any()):
        sol[bad] = torch.linalg.lstsq(a[bad], b[bad]).solution
    return sol


def wpe_stft(
    spec: torch.Tensor,
    *,
    taps: int = 10,
    delay: int = 3,
    iterations: int = 3,
    psd_context: int = 0,
    eps: float = 1e-10,
) -> torch.Tensor:
    """WPE on a complex STFT ``(..., F, T)``; returns the dereverberated STFT, same shape.

    ``eps`` is relative: in each iteration the power floor is ``eps * max |x|^2`` over the
    whole current estimate (as nara_wpe's batched ``wpe_v6`` does). Leading dimensions are
    independent signals.
    """
    if not spec.is_complex():
        raise ConfigError("wpe_stft expects a complex STFT")
    if taps < 1 or delay < 1 or iterations < 1 or psd_context < 0:
        raise ConfigError("wpe needs taps >= 1, delay >= 1, iterations >= 1, psd_context >= 0")
    y = spec.to(torch.complex128)
    y_tilde = _delayed_stack(y, taps, delay)  # (..., F, K, T)
    x = y
    for _ in range(iterations):
        power = _window_mean(x.abs().square(), psd_context)
        power_max = float(power.amax()) if power.numel() else 0.0
        inv = (
            1.0 / power.clamp_min(eps * power_max) if power_max > 0 else torch.ones_like(power)
        )  # (..., F, T)
        weighted = y_tilde * inv.unsqueeze(-2)  # (..., F, K, T)
        corr = weighted @ y_tilde.conj().transpose(-1, -2)  # (..., F, K, K)
        cross = weighted @ y.conj().unsqueeze(-1)  # (..., F, K, 1)
        g = _solve(corr, cross)  # (..., F, K, 1)
        x = y - (g.conj().transpose(-1, -2) @ y_tilde).squeeze(-2)  # (..., F, T)
    return x.to(spec.dtype)


def wpe_dereverberate(
    reverberant: np.ndarray | torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    *,
    taps: int = 10,
    delay: int = 2,
    iterations: int = 3,
    psd_context: int = 0,
    stft_config: StftConfig = WPE_STFT,
) -> np.ndarray | torch.Tensor:
    """Dereverberate mono speech by single-channel WPE (see the module docstring).

    STFT ``stft_config`` (default :data:`WPE_STFT`, Hann 1024, hop 256 at 16 kHz); ``taps``
    (K) frames of prediction after a ``delay`` (Delta) of frames, ``iterations`` of the
    variance / filter alternation. Returns the same type and length as the input; a torch
    input is processed on its device. The direct path and early reflections (``delay`` x hop,
    32 ms by default) are kept: compare the output with the early-reverberant signal, not the
    dry one.
    """
    if int(sample_rate) != SAMPLE_RATE:
        raise AudioError(
            f"wpe_dereverberate uses an STFT for {SAMPLE_RATE} Hz audio, got "
            f"{sample_rate} Hz; resample first with avgen.audio.resample"
        )
    is_torch = isinstance(reverberant, torch.Tensor)
    x = reverberant.detach() if is_torch else torch.from_numpy(np.asarray(reverberant))
    check_waveform(x, name="reverberant", min_samples=stft_config.n_fft)
    work = x.to(torch.float64)
    spec = stft(work, stft_config)
    derev = wpe_stft(spec, taps=taps, delay=delay, iterations=iterations, psd_context=psd_context)
    out = istft(derev, stft_config, length=work.shape[-1])
    if is_torch:
        return out.to(reverberant.dtype if reverberant.is_floating_point() else torch.float32)
    arr = np.asarray(reverberant)
    return out.cpu().numpy().astype(arr.dtype if arr.dtype.kind == "f" else np.float32)
