"""Unsupervised (audio-visual) speech enhancement: a VAE speech prior + NMF noise + EM.

* :mod:`.pipeline` -- :func:`enhance`, :func:`enhance_batch`: one recording -> a
  :class:`~avgen.pipelines.result.PipelineResult`;
* :mod:`.schemes` -- the E-step schemes by name and their :class:`EMSchedule`;
* :mod:`.target` -- the per-utterance posterior target a prior offers (decoder, prior term);
* :mod:`.report` -- sentences that say what a run did;
* :mod:`.figure` -- the enhancement figure.
"""

from avgen.pipelines.vae_nmf.pipeline import enhance, enhance_batch
from avgen.pipelines.vae_nmf.schemes import SCHEMES, EMSchedule

__all__ = ["SCHEMES", "EMSchedule", "enhance", "enhance_batch"]
