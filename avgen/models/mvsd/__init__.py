"""MVSD (Ma, Wang, Yang, Zheng, ECCV 2024): visual acoustic matching and visually conditioned
dereverberation by two conditional diffusion converters trained by mutual learning.

* :mod:`~avgen.models.mvsd.config` -- :class:`MVSDConfig`, the named sizes,
  :class:`MVSDTrainConfig`;
* :mod:`~avgen.models.mvsd.converter` -- one EDM-preconditioned converter, its cheap prediction and
  its sampler;
* :mod:`~avgen.models.mvsd.losses` -- denoising, style and cycle losses;
* :mod:`~avgen.models.mvsd.model` -- :class:`MVSD` (``match``, ``dereverberate``);
* :mod:`~avgen.models.mvsd.train` -- :func:`fit_mvsd` (mutual learning);
* :mod:`~avgen.models.mvsd.regression` -- the AV U-Net-like regression baseline;
* :mod:`~avgen.models.mvsd.checkpoints` -- ``save_mvsd`` / ``load_mvsd``.

Nothing is re-exported here: import from the modules.
"""
