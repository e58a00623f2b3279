"""What every pipeline does the same way before and after its inference: check the input,
choose the device, time the run and say what it did.

A pipeline is ``model + likelihood + inference -> estimate``::

    wave   = mono_input(noisy, name=..., sample_rate=..., min_samples=...)   # AudioError
    device = resolve_device(device)                                          # ConfigError
    ... the pipeline's own inference (EM, posterior sampling) ...
    info   = run_info(pipeline=..., seed=..., device=..., n_samples=..., seconds=...)
    return PipelineResult(...)

User mistakes are :class:`~avgen.errors.AvgenError`\\ s raised here or by the pipeline's own
checks *before* inference starts; nothing around the inference translates exceptions, so a bug
surfaces as a bug (issue 10).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, check_waveform
from avgen.errors import AudioError
from avgen.runtime import check_device


def mono_input(
    x: torch.Tensor | np.ndarray, *, name: str, min_samples: int, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """``x`` as a detached float32 ``(n,)`` tensor, or :class:`AudioError` saying why not.

    Refuses another sample rate than 16 kHz (the models' rate: resample at the edge), a
    complex or non-numeric array, a 2-D array (even ``(1, n)``: squeeze it knowingly), fewer
    than ``min_samples`` samples, NaN or infinite values, and digital silence.
    """
    if int(sample_rate) != SAMPLE_RATE:
        raise AudioError(
            f"{name}: the audio is at {sample_rate} Hz; the models work at "
            f"{SAMPLE_RATE} Hz (resample it first, e.g. avgen enhance --resample)"
        )
    if not isinstance(x, torch.Tensor):
        array = np.asarray(x)
        if array.dtype.kind not in "fiub":
            raise AudioError(f"{name}: expected a real waveform, got an array of {array.dtype}")
        x = torch.as_tensor(array)
    if x.is_complex():
        raise AudioError(f"{name}: expected a real waveform, got {x.dtype}")
    if x.ndim == 2 and 1 in x.shape:
        raise AudioError(
            f"{name}: the audio has shape {tuple(x.shape)}: pass a 1-D mono "
            "waveform (squeeze the channel axis)"
        )
    check_waveform(x, name=name, min_samples=min_samples)
    return x.detach().to(torch.float32)


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`; :class:`ConfigError` for an unusable one (the one
    rule, :func:`avgen.runtime.check_device`)."""
    return check_device(device)


def run_info(
    *, pipeline: str, seed: int, device: torch.device, n_samples: int, seconds: float, **more: Any
) -> dict[str, Any]:
    """The fields every pipeline's ``info`` starts with (then its own ``more``)."""
    duration = n_samples / SAMPLE_RATE
    return {
        "pipeline": pipeline,
        "seed": seed,
        "device": str(device),
        "sample_rate": SAMPLE_RATE,
        "n_samples": n_samples,
        "duration_s": duration,
        "seconds": seconds,
        "real_time_factor": seconds / duration,
        **more,
    }
