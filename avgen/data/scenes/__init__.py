"""The scene-video kit of audio-visual soundscape stylization (``avgen data scenes``).

A *video* keeps one scene over time, as the videos that Li et al. (ECCV 2024, "Self-Supervised
Audio-Visual Soundscape Stylization") learn from: one picture, one continuous ambience track
from the noise bank matched to the scene, one acoustic response (a simulated room indoors and
in a train carriage, open air outdoors), and a stream of speech cut into clips. Two clips of a
video share scene and ambience but not words, so a clip can be the condition of another.

* :mod:`~avgen.data.scenes.catalogue` -- the scene kinds, their seen/unseen split and the noise
  types each may sound like;
* :mod:`~avgen.data.scenes.outdoor` -- procedural 128x128 pictures of outdoor scenes (and a
  train carriage) whose look follows their ambience;
* :mod:`~avgen.data.scenes.openair` -- open-air impulse responses (direct path and a few
  reflections) and the train carriage's room;
* :mod:`~avgen.data.scenes.records` -- the kit's on-disk format;
* :mod:`~avgen.data.scenes.kit` -- building it: splits, clips, test triplets, resumable and
  deterministic; :mod:`~avgen.data.scenes.enhanced` -- the optional enhanced clips;
* :mod:`~avgen.data.scenes.dataset` -- :func:`~avgen.data.scenes.dataset.read_scene_kit`;
* :mod:`~avgen.data.scenes.pairs` -- self-supervised stylization pairs and test items.

Nothing is re-exported here: import from the modules.
"""
