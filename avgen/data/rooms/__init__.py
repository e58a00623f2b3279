"""Simulated shoebox rooms: seeded room specifications, impulse responses, labels, pictures.

A small, honest SoundSpaces: each room is a :class:`~avgen.data.rooms.spec.RoomSpec`
(dimensions, one material from pyroomacoustics' database per surface, source and microphone
positions), its impulse response is simulated by pyroomacoustics and its labels (RT60 broadband
and per octave band, DRR) are measured on that response, and
:func:`~avgen.data.rooms.picture.render_room` draws the picture a camera at the microphone sees,
with wall, floor and ceiling colours and textures that follow the materials. Picture and
impulse response therefore share one ground truth.

* :mod:`~avgen.data.rooms.spec` -- the room specification, materials and their looks, seeded
  sampling;
* :mod:`~avgen.data.rooms.acoustics` -- simulated impulse responses, reverberant speech,
  measured acoustic labels;
* :mod:`~avgen.data.rooms.picture` -- the picture a camera at the microphone sees (with a
  jittered camera and light);
* :mod:`~avgen.data.rooms.viewpoints` -- several source/microphone placements per room;
* :mod:`~avgen.data.rooms.records` -- the room kit's on-disk format;
* :mod:`~avgen.data.rooms.kit` -- building the room kit (``avgen data rooms``): splits, paired
  and unpaired items, resumable and deterministic;
* :mod:`~avgen.data.rooms.dataset` -- reading it:
  :func:`~avgen.data.rooms.dataset.read_room_kit` and torch datasets.

Nothing is re-exported here: import from the modules.
"""
