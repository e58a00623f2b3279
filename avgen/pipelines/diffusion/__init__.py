"""Diffusion-prior pipelines: unsupervised enhancement (a diffusion prior of clean speech and
NMF noise, UDiffSE) and unsupervised dereverberation (the prior and a jointly estimated room
operator, BUDDy), built on the model-agnostic samplers of :mod:`inference.diffusion`.

Both return a :class:`~avgen.pipelines.result.PipelineResult`:

* :func:`enhance_diffusion` -- history of :class:`UDiffSERecord`, ``noise`` the fitted
  :class:`~inference.nmf.NMFParams`;
* :func:`dereverberate` -- history of :class:`DereverbRecord`, ``extras["rir"]`` and
  ``extras["t60_per_band"]``.

:mod:`.common` holds the skeleton they share. See ``docs/diffusion-pipelines.md``.
"""

from avgen.pipelines.diffusion.common import PRIOR_LEVEL_DB, SigmaSchedule
from avgen.pipelines.diffusion.dereverb import DereverbRecord, broadband_t60, dereverberate
from avgen.pipelines.diffusion.udiffse import (
    NMFFit,
    NMFNoiseStep,
    UDiffSERecord,
    enhance_diffusion,
)

__all__ = [
    "PRIOR_LEVEL_DB",
    "DereverbRecord",
    "NMFFit",
    "NMFNoiseStep",
    "SigmaSchedule",
    "UDiffSERecord",
    "broadband_t60",
    "dereverberate",
    "enhance_diffusion",
]
