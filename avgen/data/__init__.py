"""The offline audio-visual data kit, one subpackage per part.

* :mod:`avgen.data.speech` -- speech sources (TTS, recordings), phone timing, forced alignment,
  speakers and splits, the kit's utterance plans;
* :mod:`avgen.data.lips` -- mouth-region videos rendered from phone timing;
* :mod:`avgen.data.noise` -- the noise bank: types, seen/unseen split, procedural and recorded
  clips;
* :mod:`avgen.data.rooms` -- simulated rooms: impulse responses, acoustic labels, pictures;
* :mod:`avgen.data.kit` -- the kit folder: format, builder, mixtures, corpus import;
* :mod:`avgen.data.datasets` -- torch datasets over a kit folder.
"""
