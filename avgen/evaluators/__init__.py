"""Offline evaluators of enhanced speech that need no clean reference signal: DNSMOS quality,
word error rate of an offline recogniser, speaker similarity and equal error rate.

* :mod:`avgen.evaluators.mos` -- DNSMOS P.835 (SIG, BAK, OVRL) and P.808 from the ONNX models
  inside the ``speechmos`` wheel: :func:`~avgen.evaluators.mos.dnsmos`,
  :func:`~avgen.evaluators.mos.mos_difference` (``|OVRL(pred) - OVRL(target)|``, a stand-in
  for MOSE).
* :mod:`avgen.evaluators.wer` -- pocketsphinx's en-us recogniser (a core dependency):
  :func:`~avgen.evaluators.wer.transcribe`, :func:`~avgen.evaluators.wer.word_error_rate`,
  :func:`~avgen.evaluators.wer.wer`.
* :mod:`avgen.evaluators.speaker` -- resemblyzer's d-vector encoder (weights inside its wheel):
  :func:`~avgen.evaluators.speaker.speaker_embedding`,
  :func:`~avgen.evaluators.speaker.equal_error_rate`, :func:`~avgen.evaluators.speaker.speaker_eer`.
* :mod:`avgen.evaluators.ambience` -- an ambience encoder trained here on the noise bank (no
  pretrained FAD embedding can be had offline): embeddings and ambience types of clips.
* :mod:`avgen.evaluators.stylization` -- the soundscape-stylization metrics: Fréchet and
  per-clip embedding distances, ambience accuracy, STFT and log-mel distances, RT60 error,
  WER; :func:`~avgen.evaluators.stylization.score_stylization` scores a test set.

Everything runs offline on the CPU. The packages are imported on first use; a missing one
raises :class:`avgen.errors.MissingToolError` naming the extra, ``pip install
'avgen[evaluators]'``.
"""

from __future__ import annotations

import importlib.util

from avgen.errors import MissingToolError
from avgen.lazy import lazy_exports

EXTRA = "evaluators"
INSTALL_HINT = f"pip install 'avgen[{EXTRA}]'"


def require_extra(package: str, distribution: str, what: str) -> None:
    """Raise :class:`MissingToolError` naming the extra unless ``package`` can be imported."""
    if importlib.util.find_spec(package) is None:
        raise MissingToolError(f"{what} needs the {distribution} package: {INSTALL_HINT}")


_EXPORTS = {
    "DnsmosScores": "avgen.evaluators.mos",
    "dnsmos": "avgen.evaluators.mos",
    "mos_difference": "avgen.evaluators.mos",
    "transcribe": "avgen.evaluators.wer",
    "word_error_rate": "avgen.evaluators.wer",
    "wer": "avgen.evaluators.wer",
    "speaker_embedding": "avgen.evaluators.speaker",
    "cosine_similarity": "avgen.evaluators.speaker",
    "equal_error_rate": "avgen.evaluators.speaker",
    "speaker_eer": "avgen.evaluators.speaker",
    "ambience_embeddings": "avgen.evaluators.ambience",
    "classify_ambience": "avgen.evaluators.ambience",
    "frechet_distance": "avgen.evaluators.stylization",
    "score_stylization": "avgen.evaluators.stylization",
}
__all__ = ["require_extra", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
