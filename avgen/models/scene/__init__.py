"""Models of an acoustic scene seen in a picture or heard in a recording, shared by MVSD
(visual acoustic matching and dereverberation) and soundscape stylization.

* :mod:`~avgen.models.scene.embedding` -- the value every scene encoder returns
  (:class:`~avgen.models.scene.embedding.SceneEmbedding`) and the picture tensor convention.
* :mod:`~avgen.models.scene.resnet` -- the ResNet-18-shaped trunk of settable width.
* :mod:`~avgen.models.scene.encoder` -- the scene encoder (picture -> 256-d vector + tokens).
* :mod:`~avgen.models.scene.acoustic_head` -- the encoder with an auxiliary head predicting
  octave-band RT60 and DRR from the picture (training, evaluation, checkpoints).
* :mod:`~avgen.models.scene.rt60_estimator` -- the blind RT60 estimator from reverberant speech
  and the RTE metric it defines (AViTAR), with checkpoints.
* :mod:`~avgen.models.scene.image2reverb` -- the Image2Reverb-like VAM baseline (picture ->
  synthetic RIR, convolved with the dry speech).
* :mod:`~avgen.models.scene.regression` -- what the two regressors share (standardised
  targets, the training loop, 95 % intervals).

Nothing is re-exported here: import from the modules.
"""
