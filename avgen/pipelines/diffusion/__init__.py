"""Diffusion-prior pipelines: unsupervised enhancement (a diffusion prior of clean speech and
NMF noise, UDiffSE) and unsupervised dereverberation (the prior and a jointly estimated room
operator, BUDDy), built on the model-agnostic samplers of :mod:`inference.diffusion`.

* :func:`enhance_diffusion` -> :class:`DiffusionEnhancement`
* :func:`dereverberate` -> :class:`Dereverberation`

See ``docs/diffusion-pipelines.md``.
"""

from avgen.pipelines.diffusion.common import PRIOR_LEVEL_DB, SigmaSchedule
from avgen.pipelines.diffusion.dereverb import Dereverberation, broadband_t60, dereverberate
from avgen.pipelines.diffusion.udiffse import DiffusionEnhancement, NMFNoiseStep, enhance_diffusion

__all__ = [
    "PRIOR_LEVEL_DB",
    "Dereverberation",
    "DiffusionEnhancement",
    "NMFNoiseStep",
    "SigmaSchedule",
    "broadband_t60",
    "dereverberate",
    "enhance_diffusion",
]
