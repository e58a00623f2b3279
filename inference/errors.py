"""The exception types of the inference layer: :class:`InferenceError` and its subclasses.

``inference`` never imports ``avgen``, so it cannot raise ``avgen.errors.AvgenError``. A user
mistake detected here (wrong shapes, a non-positive step size, a model site that cannot be
sampled per frame, an unknown sampler) raises :class:`InferenceError` -- a ``ValueError`` whose
one-line message says what to do -- or one of its subclasses where a caller may want to tell
the case apart. The application layer may catch it *where it validates its settings* and
re-raise its own error type; an exception during a run is a bug and should surface as one.
"""

from __future__ import annotations


class InferenceError(ValueError):
    """Bad input to an inference routine; the message says how to fix it."""


class UnknownSamplerError(InferenceError):
    """A sampler name that is not registered (:data:`inference.diffusion.SAMPLERS`)."""


class SamplerOptionError(InferenceError):
    """An option a sampler does not take, or a value outside its range."""


class NumericalError(RuntimeError):
    """A numerical failure inside an inference run (a non-finite state or objective).

    Not the caller's mistake and deliberately *not* an :class:`InferenceError`: the application
    layer must never present it as a problem with the user's input. The message names where it
    happened (the EM iteration, the reverse step) and which quantity went non-finite.
    """
