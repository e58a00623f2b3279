"""Audio-visual soundscape stylization (Li et al., "Self-Supervised Audio-Visual Soundscape
Stylization", ECCV 2024): re-render speech as if recorded in the scene of an audio-visual
example, by a latent diffusion model conditioned on the example's sound and picture.

* :mod:`~avgen.models.stylizer.representation` -- the compressed complex STFT, log-mel features
  and the round-trip metrics;
* :mod:`~avgen.models.stylizer.autoencoder` -- the KL-regularised convolutional VAE of the
  compressed STFT (:class:`SpectralVAE`);
* :mod:`~avgen.models.stylizer.conditions` -- the audio-example encoder, the picture encoder and
  their learned null tokens (classifier-free guidance);
* :mod:`~avgen.models.stylizer.config` -- :class:`StylizerConfig`, :func:`stylizer_config`,
  :class:`StylizerTrainConfig`;
* :mod:`~avgen.models.stylizer.model` -- :class:`Stylizer` (``stylize``);
* :mod:`~avgen.models.stylizer.train` -- :func:`fit_autoencoder`, :func:`fit_stylizer`;
* :mod:`~avgen.models.stylizer.checkpoints` -- ``save_stylizer`` / ``load_stylizer``.

Nothing is re-exported here: import from the modules.
"""
