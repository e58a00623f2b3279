"""Pipelines: ``model + likelihood + inference -> estimate``, one shape for all.

==================================  ===========================================================
:mod:`avgen.pipelines.vae_nmf`      unsupervised enhancement: a VAE speech prior, NMF noise,
                                    Monte-Carlo or variational EM (:func:`enhance`)
:mod:`avgen.pipelines.diffusion`    a diffusion speech prior with NMF noise (UDiffSE,
                                    :func:`enhance_diffusion`) or a room operator (BUDDy,
                                    :func:`dereverberate`)
:mod:`avgen.pipelines.result`       :class:`PipelineResult`, what every pipeline returns
:mod:`avgen.pipelines.common`       input checks, device, the ``info`` every run reports
:mod:`avgen.pipelines.long`         the three on inputs of any length, in overlapping segments
                                    (:mod:`avgen.pipelines.segments`)
:mod:`avgen.pipelines.batch`        many files: a summary, resumable, in parallel processes
:mod:`.enhance_file`,               one file as ``avgen enhance`` / ``avgen dereverb`` do it
:mod:`.dereverb_file`
==================================  ===========================================================

``docs/architecture.md`` draws the packages and the flow of one enhancement. Names are imported
on first use (the diffusion pipelines pull in the U-Net only when called).
"""

from __future__ import annotations

from avgen.lazy import lazy_exports

_EXPORTS = {
    "PipelineResult": "avgen.pipelines.result",
    "enhance": "avgen.pipelines.vae_nmf",
    "enhance_batch": "avgen.pipelines.vae_nmf",
    "EMSchedule": "avgen.pipelines.vae_nmf",
    "enhance_diffusion": "avgen.pipelines.diffusion",
    "dereverberate": "avgen.pipelines.diffusion",
    "SigmaSchedule": "avgen.pipelines.diffusion",
    "SegmentPlan": "avgen.pipelines.segments",
    "enhance_long": "avgen.pipelines.long",
    "enhance_diffusion_long": "avgen.pipelines.long",
    "dereverberate_long": "avgen.pipelines.long",
    "run_batch": "avgen.pipelines.batch",
    "enhance_file": "avgen.pipelines.enhance_file",
    "dereverb_file": "avgen.pipelines.dereverb_file",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
