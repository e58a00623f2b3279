"""Speech for the data kit: where it comes from, and the phone timing that drives the lips.

* :mod:`~avgen.data.speech.phones` -- phone segments in one canonical ARPAbet set;
* :mod:`~avgen.data.speech.tts` -- flite, festival and espeak-ng speech with the synthesizer's
  own timing (:mod:`~avgen.data.speech.espeak` and :mod:`~avgen.data.speech.espeak_binding`
  drive libespeak-ng);
* :mod:`~avgen.data.speech.recordings` -- real recorded speech installed on the system;
* :mod:`~avgen.data.speech.align` -- forced alignment of real speech to its transcript, by
  :mod:`~avgen.data.speech.sphinx` (pocketsphinx, English) or :mod:`~avgen.data.speech.dtw`
  (TTS + dynamic time warping, any language), with :mod:`~avgen.data.speech.text` (English text
  normalisation) and :mod:`~avgen.data.speech.vad` (energy voice-activity detection);
* :mod:`~avgen.data.speech.speakers` -- every speaker of the kit and the speaker-disjoint
  splits;
* :mod:`~avgen.data.speech.plan` -- which utterances a kit holds (sizes, quotas, texts);
* :mod:`~avgen.data.speech.produce` -- how each planned utterance is made (audio, phones,
  record fields), and the babble talkers;
* :mod:`~avgen.data.speech.licences` -- the licence notices the speech sources need.

Nothing is re-exported here: import from the modules.
"""
