"""The one exception type of the inference layer.

``inference`` never imports ``avgen``, so it cannot raise ``avgen.errors.AvgenError``. A user
mistake detected here (wrong shapes, a non-positive step size, a model site that cannot be
sampled per frame) raises :class:`InferenceError`, a ``ValueError`` whose one-line message says
what to do. The application layer may catch it and re-raise its own error type.
"""

from __future__ import annotations


class InferenceError(ValueError):
    """Bad input to an inference routine; the message says how to fix it."""
