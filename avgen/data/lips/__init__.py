"""Rendered lips: phone timing -> visemes -> articulator tracks -> mouth-region video.

One module per step of the pipeline, then the entry points:

* :mod:`~avgen.data.lips.visemes` -- phones to 14 viseme classes with articulatory targets;
* :mod:`~avgen.data.lips.shape` -- Cohen-Massaro dominance blending into smooth tracks;
* :mod:`~avgen.data.lips.style` -- the speaker's mouth, the utterance's head motion and
  lighting;
* :mod:`~avgen.data.lips.render` -- vectorised anti-aliased rasterisation;
* :mod:`~avgen.data.lips.degrade` -- optional blur, low resolution, occlusion, noise, drops;
* :mod:`~avgen.data.lips.video` -- render a lip video from phones (the entry points);
* :mod:`~avgen.data.lips.frames` -- frame counts and times, resampling to STFT frames, resizing;
* :mod:`~avgen.data.lips.files` -- reading and writing lip videos (``.npy``, video files);
* :mod:`~avgen.data.lips.preview` -- contact sheets of lip videos.

Nothing is re-exported here (the renderer needs torch): import from the modules.
"""
