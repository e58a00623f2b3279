"""Process-level tuning for the EM loops on CPU: keep freed memory instead of unmapping it.

Every M-step builds several ``(R, T, F)`` float32 temporaries (R = 10 samples, T ~ 250 frames,
F = 513 bins: about 5 MB each) and every MH step a few ``(T, F)`` ones. glibc serves blocks above
its mmap threshold with fresh ``mmap`` calls and returns them with ``munmap``, so each temporary
page-faults its memory in again: on the 2-core test machine the M-step's IS-divergence took
2.7 ms with the tuning below against 6.7-13 ms without (``benchmarks/enhance_speed.py`` compares
whole runs with ``--no-malloc-tuning``). :func:`keep_freed_memory` raises the mmap and trim
thresholds (``mallopt``) so those blocks are reused from the heap.

It changes the allocator of the whole process, so the library never calls it by itself: the
command line (``avgen enhance``, ``eval``, ``demo``) and the benchmarks do. Elsewhere than on
glibc it does nothing.

:func:`check_device` turns a ``--device`` the machine cannot honour into a one-line error.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

from avgen.errors import ConfigError

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold_mb: int = 256, trim_threshold_mb: int = 512) -> bool:
    """Raise glibc's mmap/trim thresholds; ``True`` if it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(M_MMAP_THRESHOLD, int(mmap_threshold_mb) << 20)
    ok &= mallopt(M_TRIM_THRESHOLD, int(trim_threshold_mb) << 20)
    return bool(ok)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, or :class:`~avgen.errors.ConfigError` for one torch
    does not know or a CUDA device on a machine without a GPU: the one rule for pipelines
    (:func:`avgen.pipelines.common.resolve_device`), loading weights and training."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {device!r} ({exc}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA GPU is available")
    return dev
