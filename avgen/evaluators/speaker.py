"""Speaker similarity and equal error rate with resemblyzer's voice encoder (PyPI
``resemblyzer``, extra ``avgen[evaluators]``).

The encoder (Wan et al., "Generalized end-to-end loss for speaker verification", ICASSP 2018: a
3-layer LSTM over 40-band mel frames giving a 256-dimensional, L2-normalised d-vector) comes
with its weights inside the wheel (``resemblyzer/pretrained.pt``, 17 MB); nothing is downloaded.
An utterance is preprocessed as resemblyzer does (volume normalised to -30 dBFS, long silences
cut by webrtcvad) and embedded as the normalised mean of 1.6 s partial embeddings.

``webrtcvad`` 2.0.10, which resemblyzer needs, imports ``pkg_resources`` only to read its own
version; setuptools 81 and later no longer have it. When that import fails, :func:`_encoder`
registers the same small ``Vad`` wrapper over the compiled ``_webrtcvad`` module that webrtcvad
ships (no other change).

* :func:`speaker_embedding` -- the d-vector of one utterance (numpy, shape (256,));
* :func:`cosine_similarity` -- of two embeddings;
* :func:`equal_error_rate` -- EER of verification scores with their labels (hand-checked
  cases in the tests);
* :func:`speaker_eer` -- the EER of cosine scores over trials ``(wave_a, wave_b, same)``.
"""

from __future__ import annotations

import functools
import sys
import types
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.evaluators import require_extra

EMBEDDING_SIZE = 256


def _webrtcvad_shim() -> None:
    """Register ``webrtcvad`` without its ``pkg_resources`` import (see the module docstring)."""
    try:
        import webrtcvad  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
        import _webrtcvad

        class Vad:
            def __init__(self, mode=None):
                self._vad = _webrtcvad.create()
                _webrtcvad.init(self._vad)
                if mode is not None:
                    _webrtcvad.set_mode(self._vad, mode)

            def set_mode(self, mode):
                _webrtcvad.set_mode(self._vad, mode)

            def is_speech(self, buf, sample_rate, length=None):
                length = length or len(buf) // 2
                if length * 2 > len(buf):
                    raise IndexError(f"buffer has {len(buf) // 2} frames, length is {length}")
                return _webrtcvad.process(self._vad, sample_rate, buf, length)

        module = types.ModuleType("webrtcvad")
        module.Vad = Vad
        module.valid_rate_and_frame_length = _webrtcvad.valid_rate_and_frame_length
        sys.modules["webrtcvad"] = module


@functools.cache
def _encoder():
    require_extra("resemblyzer", "resemblyzer", "Speaker embeddings")
    require_extra("_webrtcvad", "webrtcvad", "Speaker embeddings")
    _webrtcvad_shim()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.morphology
        import resemblyzer
    return resemblyzer, resemblyzer.VoiceEncoder(device="cpu", verbose=False)


def speaker_embedding(
    wave: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """resemblyzer's d-vector of mono speech: float32, shape (256,), unit L2 norm.

    Audio at another rate is resampled to 16 kHz first (:func:`avgen.audio.resample`). When
    the voice activity detector keeps less than 0.5 s, the whole volume-normalised clip is
    embedded instead.
    """
    from avgen.audio import check_waveform, resample

    x = (
        wave.detach().cpu().double()
        if isinstance(wave, torch.Tensor)
        else torch.as_tensor(np.asarray(wave, dtype=np.float64))
    )
    check_waveform(x, name="wave", min_samples=1)
    if int(sample_rate) != SAMPLE_RATE:
        x = resample(x, int(sample_rate), SAMPLE_RATE)
    x = x.numpy().astype(np.float32)
    resemblyzer, encoder = _encoder()
    with torch.inference_mode():
        pre = resemblyzer.preprocess_wav(x)
        if pre.size < SAMPLE_RATE // 2:
            from resemblyzer.hparams import audio_norm_target_dBFS

            pre = resemblyzer.normalize_volume(x, audio_norm_target_dBFS, increase_only=True)
        embedding = encoder.embed_utterance(np.asarray(pre, dtype=np.float32))
    return np.asarray(embedding, dtype=np.float32)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two embeddings."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def equal_error_rate(scores: Sequence[float], labels: Sequence[int | bool]) -> float:
    """Equal error rate of verification ``scores`` (higher = more likely the same speaker) with
    ``labels`` (1/True = target trial, 0/False = non-target).

    Accepting every trial with score >= t gives a false-acceptance rate FAR(t) (non-targets
    accepted) and a false-rejection rate FRR(t) (targets rejected). Going down the distinct
    scores from t = +inf (FAR 0, FRR 1), the EER is where FRR - FAR changes sign, interpolated
    linearly between the two operating points around the crossing (tied scores move FAR and
    FRR at once, and the crossing then falls between them).
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    if s.size != y.size:
        raise ConfigError(f"{s.size} scores but {y.size} labels")
    if not np.all(np.isfinite(s)):
        raise ConfigError("scores must be finite")
    n_target, n_nontarget = int(y.sum()), int((~y).sum())
    if n_target == 0 or n_nontarget == 0:
        raise ConfigError("the EER needs at least one target and one non-target trial")
    thresholds = np.unique(s)[::-1]  # descending
    far = np.concatenate([[0.0], [np.sum(s[~y] >= t) / n_nontarget for t in thresholds]])
    frr = np.concatenate([[1.0], [np.sum(s[y] < t) / n_target for t in thresholds]])
    diff = frr - far  # starts at 1, ends <= 0 (everything accepted: FRR 0)
    i = int(np.argmax(diff <= 0))
    if diff[i] == 0:
        return float(far[i])
    alpha = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(far[i - 1] + alpha * (far[i] - far[i - 1]))


def speaker_eer(
    pairs: Iterable[tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor, bool]],
    sample_rate: int = SAMPLE_RATE,
) -> float:
    """EER of cosine scores between the embeddings of trials ``(wave_a, wave_b, same_speaker)``.

    Each distinct clip object is embedded once (the cache holds the clip, so an id is never
    reused for another one).
    """
    cache: dict[int, tuple[object, np.ndarray]] = {}

    def embed(w) -> np.ndarray:
        key = id(w)
        if key not in cache:
            cache[key] = (w, speaker_embedding(w, sample_rate))
        return cache[key][1]

    scores, labels = [], []
    for a, b, same in pairs:
        scores.append(cosine_similarity(embed(a), embed(b)))
        labels.append(bool(same))
    return equal_error_rate(scores, labels)
