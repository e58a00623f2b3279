"""Simulated shoebox rooms: seeded room specifications, impulse responses, labels, pictures.

* :mod:`~avgen.data.rooms.spec` -- rooms, their materials, sampling, simulated impulse
  responses and measured acoustic labels;
* :mod:`~avgen.data.rooms.picture` -- the picture a camera at the microphone sees, from the same
  specification.

Nothing is re-exported here: import from the modules.
"""
