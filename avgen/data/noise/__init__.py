"""The noise bank of the data kit: noise types and their seen/unseen split, and the clips.

* :mod:`~avgen.data.noise.catalogue` -- the noise types and their seen/unseen split;
* :mod:`~avgen.data.noise.bank` -- the clips of every type, writing the bank into a kit;
* :mod:`~avgen.data.noise.procedural` -- seeded generators with documented spectra;
* :mod:`~avgen.data.noise.real` -- ambience recordings of installed packages, with their
  per-file licences;
* :mod:`~avgen.data.noise.unusual` -- noises far from any training set (harmonic machine,
  music-like, clicks, whistles, gusty wind, a competing tone, rain-like), for benchmarks only:
  not in the catalogue.

Nothing is re-exported here: import from the modules.
"""
