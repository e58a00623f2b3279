"""avgen: probabilistic audio-visual generative models for speech.

The domain package: audio I/O and STFTs (:mod:`avgen.audio`), metrics (:mod:`avgen.metrics`),
the offline audio-visual data kit (:mod:`avgen.data`), Pyro speech priors (:mod:`avgen.models`),
enhancement pipelines and the ``avgen`` command line. Inference schemes live in the separate,
model-agnostic package :mod:`inference`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("avgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

from avgen.errors import AvgenError

__all__ = ["AvgenError", "__version__"]
