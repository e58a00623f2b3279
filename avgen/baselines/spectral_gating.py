"""Spectral gating (T. Sainburg, ``noisereduce``; Sainburg, Thielk & Gentner, PLoS Comput. Biol.
2020) as a reference enhancer, from PyPI ``noisereduce`` (extra ``avgen[references]``).

``noisereduce.reduce_noise`` with its defaults, non-stationary: the noise floor of each bin is a
smoothed (``time_constant_s`` = 2 s) running level of the STFT magnitude (``n_fft`` 1024, hop
256 here at 16 kHz), a sigmoid mask gates what rises above it, smoothed over 500 Hz and 50 ms,
and the masked STFT is inverted. No noise example is given (``y_noise=None``), as for the
other unsupervised rows; one job (``n_jobs=1``), numpy (``use_torch=False``).

The STFT is centred, so there is no delay: a unit impulse comes back at its own sample
(checked by tests/test_references.py), and the cross-correlation of the output with clean
flite speech peaks at lag 0.
"""

from __future__ import annotations

import numpy as np
import torch

from avgen.baselines.references import check_rate, like_input, require, to_numpy

SPECTRAL_GATING_DELAY = 0
"""Delay of noisereduce's spectral gating (centred STFT), measured: 0 samples."""


def spectral_gating_enhance(
    noisy: np.ndarray | torch.Tensor,
    sample_rate: int = 16_000,
    *,
    stationary: bool = False,
) -> np.ndarray | torch.Tensor:
    """Enhance mono noisy speech with noisereduce's spectral gating (non-stationary by default).

    Returns the same type as ``noisy`` and the same length. Raises MissingToolError when
    ``noisereduce`` is absent (``pip install 'avgen[references]'``).
    """
    sr = check_rate(sample_rate)
    x = to_numpy(noisy)
    require("noisereduce", "noisereduce", "The spectral-gating reference")
    import noisereduce

    y = noisereduce.reduce_noise(
        y=x, sr=sr, stationary=stationary, n_jobs=1, use_torch=False, use_tqdm=False
    )
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] < x.shape[0]:
        y = np.pad(y, (0, x.shape[0] - y.shape[0]))
    return like_input(y[: x.shape[0]], noisy)
