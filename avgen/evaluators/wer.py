"""Word error rate with pocketsphinx's offline en-us recogniser (PyPI ``pocketsphinx`` 5.x, a
core dependency; its acoustic model, CMUdict and trigram language model ship in the wheel).

* :func:`transcribe` -- the decoder's best hypothesis for 16 kHz speech: the default en-us
  acoustic model ``en-us``, the general-English trigram ``en-us.lm.bin`` and ``cmudict-en-us``,
  whole-utterance decoding (``process_raw(..., full_utt=True)``: batch cepstral mean
  normalisation over the utterance, so a reused decoder gives the same words for the same audio,
  checked by the tests). One decoder per process (loading costs about 1.5 s).
* :func:`word_error_rate` -- ``(S + D + I) / N``: the Levenshtein distance between the word
  sequences after :func:`avgen.data.speech.text.normalize_english` (lower case, punctuation
  dropped, numbers in words), over the ``N`` reference words.
* :func:`wer` -- both: the recogniser's WER on a clip given its transcript.

What to expect: pocketsphinx is a 2010s GMM-HMM system with a generic language model, so its
absolute WER is high (about 0.3-0.5 on clean flite sentences here); it is meant for comparing
versions of the same utterances (clean vs noisy vs enhanced), not as an absolute score.
Decoding costs about 0.7 x real time on clean speech and several times that on noisy speech
(the search widens).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import ConfigError, MissingToolError


def normalize_words(text: str | Sequence[str]) -> list[str]:
    """Words of a transcript as compared by the WER: ``normalize_english`` of the text (a list
    of words is joined first)."""
    from avgen.data.speech.text import normalize_english

    if not isinstance(text, str):
        text = " ".join(text)
    return normalize_english(text)


def edit_operations(reference: Sequence[str], hypothesis: Sequence[str]) -> tuple[int, int, int]:
    """``(substitutions, deletions, insertions)`` of a minimum-cost alignment (Levenshtein,
    unit costs; among alignments of equal cost, the one with the most substitutions)."""
    n, m = len(reference), len(hypothesis)
    # cost[i][j] = (total, subs, dels, ins) for reference[:i] vs hypothesis[:j]
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, m + 1):
            t, s, d, k = prev[j - 1]
            same = reference[i - 1] == hypothesis[j - 1]
            diag = (t + (not same), s + (not same), d, k)
            t, s, d, k = prev[j]
            up = (t + 1, s, d + 1, k)  # deletion of reference[i-1]
            t, s, d, k = cur[j - 1]
            left = (t + 1, s, d, k + 1)  # insertion of hypothesis[j-1]
            cur.append(min(diag, up, left, key=lambda c: (c[0], -c[1])))
        prev = cur
    _, s, d, k = prev[m]
    return s, d, k


def word_error_rate(
    reference_text: str | Sequence[str], hypothesis_text: str | Sequence[str]
) -> float:
    """``(S + D + I) / N`` between normalised word sequences; N = reference words.

    An empty reference raises ConfigError (the rate is undefined). Can exceed 1 (insertions).
    """
    ref = normalize_words(reference_text)
    hyp = normalize_words(hypothesis_text)
    if not ref:
        raise ConfigError("the reference transcript has no words; WER is undefined")
    s, d, i = edit_operations(ref, hyp)
    return (s + d + i) / len(ref)


@functools.cache
def _decoder():
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingToolError(
            f"pocketsphinx is not installed ({exc}); pip install pocketsphinx"
        ) from None
    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")


def transcribe(wave: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> str:
    """pocketsphinx's en-us transcript of mono speech (lower case; empty when it hears no
    word). Audio at another rate is resampled to 16 kHz first; samples are clipped to [-1, 1]
    and quantised to 16 bits, as the decoder takes them."""
    from avgen.audio import check_waveform, resample

    x = (
        wave.detach().cpu().double()
        if isinstance(wave, torch.Tensor)
        else torch.as_tensor(np.asarray(wave, dtype=np.float64))
    )
    check_waveform(x, name="wave", min_samples=1)
    if int(sample_rate) != SAMPLE_RATE:
        x = resample(x, int(sample_rate), SAMPLE_RATE)
    pcm = (np.clip(x.numpy(), -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return "" if hyp is None else " ".join(hyp.hypstr.split()).lower()


def wer(
    wave: np.ndarray | torch.Tensor, reference_text: str, sample_rate: int = SAMPLE_RATE
) -> float:
    """Word error rate of pocketsphinx's transcript of ``wave`` against ``reference_text``."""
    return word_error_rate(reference_text, transcribe(wave, sample_rate))
