"""The data kit as a folder: its on-disk format, building it, importing a real corpus into it.

* :mod:`~avgen.data.kit.records` -- the format: records of utterances, noises and mixtures;
* :mod:`~avgen.data.kit.build` -- ``avgen data build``: speech, lips, noise bank, mixtures;
* :mod:`~avgen.data.kit.mixing` -- active speech level (ITU-T P.56), mixing at an SNR, the
  kit's mixtures;
* :mod:`~avgen.data.kit.corpus` -- a real audio-visual corpus on disk converted into a kit.

The torch datasets that read a kit are in :mod:`avgen.data.datasets`. Nothing is re-exported
here: import from the modules.
"""
