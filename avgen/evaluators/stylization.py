r"""Metrics of soundscape stylization (issue 14; Li et al., "Self-Supervised Audio-Visual
Soundscape Stylization", ECCV 2024), exactly as reported by ``benchmarks/stylize_quality.py``.

Distance to the true stylized clip (the test pairs are synthesized, so it exists):

* :func:`stft_distance` -- AViTAR's magnitude-STFT distance, **reused** from
  :func:`avgen.metrics.stft_distance`: MSE of :math:`|\mathrm{STFT}|` (n_fft 512, hop 160,
  Hamming 400) of the peak-normalised 16 kHz signals.
* :func:`log_mel_distance` -- the log-spectral distance on 64 mel bands (dB):

  .. math:: D = \frac{1}{T}\sum_t \sqrt{\frac{1}{M}\sum_m \big(10\log_{10}(P_{mt} + \epsilon)
            - 10\log_{10}(\hat P_{mt} + \epsilon)\big)^2},

  :math:`P` the mel power (:func:`~avgen.models.scene.ambience_encoder.mel_filterbank` on the
  AViTAR STFT) of the peak-normalised signal, :math:`\epsilon = 10^{-8}` (-80 dB re peak).

Scene acoustics:

* :func:`rt60_error` -- AViTAR's RTE, :math:`|\hat T_{60}(\hat y) - \hat T_{60}(y)|` in seconds
  with a blind RT60 estimator, **reused** from
  :func:`avgen.models.scene.rt60_estimator.reverberation_time_error`. The default estimator
  (:func:`avgen.evaluators.reverberation.default_rt60_estimator`) is the **ambient-robust**
  one (``assets/stylize/rt60-estimator-ambient.pt``: the same ResNet-18 trained on
  reverberant speech with noise-bank ambience at 0-20 dB SNR; held-out MAE 0.16-0.18 s at
  0-20 dB and clean, but weak rank correlation: see its card) when bundled, else the one
  bundled beside MVSD. The MVSD one was trained on noise-free speech and reads ambience as
  reverberation; the score also reports it on Wiener-enhanced clips
  (``rt60_error_denoised_bundled``, biased low but ordered), the column used before.

Ambience match, in the space of the encoder trained on the noise bank
(:mod:`avgen.evaluators.ambience`; no pretrained FAD embedding is available offline):

* :func:`frechet_distance` -- the Fréchet distance between Gaussians fitted to two sets of
  embeddings (FAD, Kilgour et al. 2019):

  .. math:: \mathrm{FD} = \|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b
            - 2 (\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\big),

  with unbiased covariances; :math:`\operatorname{tr}(\Sigma_a\Sigma_b)^{1/2}` is computed as
  the sum of the square roots of the eigenvalues of the symmetric PSD matrix
  :math:`\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}` (same eigenvalues as :math:`\Sigma_a\Sigma_b`),
  both square roots by ``eigh`` in float64 with negative round-off eigenvalues set to 0. The
  benchmark feeds *patch* embeddings (one per 1 s patch, hop 0.5 s), as FAD feeds VGGish frames.
* :func:`embedding_distance` -- per clip, the **cosine distance** :math:`1 - \cos(e, \hat e)`
  between clip embeddings (mean of the patch embeddings), in ``[0, 2]``.
* :func:`ambience_accuracy` -- share of clips whose ambience type the encoder's classifier
  names correctly.

Speech content kept:

* :func:`word_error` -- WER of pocketsphinx's offline en-us recogniser
  (:mod:`avgen.evaluators.wer`), compared with the input speech's own WER.

:func:`score_clip` scores one output; :func:`score_stylization` a test set (the benchmark's
entry point).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from avgen.errors import ConfigError, MissingToolError
from avgen.metrics import avitar_magnitude, peak_normalize
from avgen.metrics import stft_distance as _avitar_stft_distance
from avgen.models.scene.ambience_encoder import AmbienceEncoder, as_wave, mel_filterbank

logger = logging.getLogger("avgen")

LOG_MEL_BANDS = 64
"""Mel bands of :func:`log_mel_distance`."""

LOG_MEL_FLOOR = 1e-8
"""Added to the mel power before the log (-80 dB re the peak-normalised signal)."""


# ------------------------------------------------------------------------------------------------
# Fréchet distance
# ------------------------------------------------------------------------------------------------


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_statistics(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any) -> float:
    """The Fréchet (2-Wasserstein squared) distance between ``N(mu_a, sigma_a)`` and
    ``N(mu_b, sigma_b)`` (module docstring); float64 throughout."""
    mu_a, mu_b = np.asarray(mu_a, np.float64).reshape(-1), np.asarray(mu_b, np.float64).reshape(-1)
    sa, sb = (
        np.atleast_2d(np.asarray(sigma_a, np.float64)),
        np.atleast_2d(np.asarray(sigma_b, np.float64)),
    )
    d = mu_a.size
    if mu_b.size != d or sa.shape != (d, d) or sb.shape != (d, d):
        raise ConfigError(
            f"Fréchet distance: means ({mu_a.size}, {mu_b.size}) and covariances "
            f"{sa.shape}, {sb.shape} do not agree"
        )
    if not all(np.isfinite(x).all() for x in (mu_a, mu_b, sa, sb)):
        raise ConfigError("Fréchet distance: the statistics hold NaN or infinite values")
    root_a = _sqrtm_psd(sa)
    middle = root_a @ sb @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(sa) + np.trace(sb) - 2.0 * tr_covmean)
    return max(value, 0.0)


def _embeddings(x: Any, name: str) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if torch.is_tensor(x) else np.asarray(x, np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ConfigError(
            f"{name}: expected embeddings (N, D) with N >= 2, got shape {tuple(arr.shape)}"
        )
    if not np.isfinite(arr).all():
        raise ConfigError(f"{name}: the embeddings hold NaN or infinite values")
    return arr


def frechet_distance(emb_a: Any, emb_b: Any) -> float:
    """FAD-style Fréchet distance between two sets of embeddings ``(N_a, D)`` and ``(N_b, D)``
    (rows = samples; unbiased covariances). With fewer samples than dimensions the covariances
    are singular: the distance is still defined, but noisy -- compare sets of equal size."""
    a, b = _embeddings(emb_a, "emb_a"), _embeddings(emb_b, "emb_b")
    if a.shape[1] != b.shape[1]:
        raise ConfigError(f"embedding sizes differ: {a.shape[1]} and {b.shape[1]}")
    return frechet_distance_from_statistics(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )


# ------------------------------------------------------------------------------------------------
# Per-clip distances
# ------------------------------------------------------------------------------------------------


def embedding_distance(pred: Any, ref: Any) -> torch.Tensor:
    """Cosine distance ``1 - cos(pred, ref)`` between embeddings ``(D,)`` or row by row
    ``(N, D)``; ``()`` or ``(N,)``, in ``[0, 2]``, 0 for identical (non-zero) embeddings."""
    p = torch.as_tensor(pred, dtype=torch.float64)
    r = torch.as_tensor(ref, dtype=torch.float64)
    if p.shape != r.shape or p.ndim not in (1, 2):
        raise ConfigError(
            f"embedding_distance: shapes {tuple(p.shape)} and {tuple(r.shape)} must agree, "
            "(D,) or (N, D)"
        )
    if not (torch.isfinite(p).all() and torch.isfinite(r).all()):
        raise ConfigError("embedding_distance: the embeddings hold NaN or infinite values")
    cos = torch.nn.functional.cosine_similarity(p, r, dim=-1, eps=1e-12)
    return (1.0 - cos).clamp(0.0, 2.0)


def ambience_accuracy(preds: Sequence[str], labels: Sequence[str]) -> float:
    """Share of ``preds`` (predicted ambience types) equal to ``labels``."""
    preds, labels = list(preds), list(labels)
    if len(preds) != len(labels) or not preds:
        raise ConfigError(
            f"ambience_accuracy needs equally many predictions and labels (>0), got "
            f"{len(preds)} and {len(labels)}"
        )
    return float(np.mean([p == t for p, t in zip(preds, labels, strict=True)]))


def _pair(pred: Any, target: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Both clips checked, cropped to the shorter length."""
    p, t = as_wave(pred, "pred"), as_wave(target, "target")
    n = min(p.numel(), t.numel())
    return p[:n], t[:n]


def stft_distance(pred: Any, target: Any) -> float:
    """AViTAR's magnitude-STFT distance (:func:`avgen.metrics.stft_distance`), the clips
    cropped to the shorter one first."""
    p, t = _pair(pred, target)
    return float(_avitar_stft_distance(t, p))


def log_mel_distance(pred: Any, target: Any) -> float:
    """Log-spectral distance on 64 mel bands in dB (module docstring), the clips cropped to the
    shorter one first; 0 for identical clips, invariant to either clip's gain."""
    p, t = _pair(pred, target)
    mel = mel_filterbank(LOG_MEL_BANDS).double()
    both = peak_normalize(torch.stack([p, t]).double())
    db = 10.0 * torch.log10(
        torch.einsum("mf,bft->bmt", mel, avitar_magnitude(both).square()) + LOG_MEL_FLOOR
    )
    return float((db[0] - db[1]).square().mean(dim=0).sqrt().mean())


def rt60_error(
    pred: Any, target: Any, estimator: Any | None = None, *, denoise: bool = False
) -> float:
    """RTE in seconds, ``|RT60(pred) - RT60(target)|`` by the blind ``estimator`` (``None``:
    :func:`~avgen.evaluators.reverberation.default_rt60_estimator`, the ambient-robust one when
    bundled); :func:`reverberation_time_error` reused.

    The estimator bundled beside MVSD was trained on noise-free reverberant speech and reads
    ambience as reverberation (flite speech, T60 0.3 s, pink noise at 5 dB SNR: 1.46 s; at
    30 dB: 0.45 s), so with it the plain RTE also rewards matching the ambience level. With
    ``denoise`` both clips are Wiener-enhanced first
    (:func:`avgen.baselines.wiener.wiener_enhance`), which removes most of that bias but
    compresses the range (T60 0.3 / 0.8 / 1.5 s at 15 dB SNR read 0.43 / 0.48 / 0.53 s)."""
    from avgen.models.scene.rt60_estimator import reverberation_time_error

    if estimator is None:
        from avgen.evaluators.reverberation import default_rt60_estimator

        estimator = default_rt60_estimator()
    p, t = as_wave(pred, "pred"), as_wave(target, "target")
    if denoise:
        from avgen.baselines.wiener import wiener_enhance

        p, t = wiener_enhance(p), wiener_enhance(t)
    return reverberation_time_error(p, t, estimator)


def word_error(wave: Any, transcript: str) -> float:
    """pocketsphinx's WER of ``wave`` against ``transcript`` (:func:`avgen.evaluators.wer.wer`);
    :class:`MissingToolError` naming the package when pocketsphinx is not installed."""
    from avgen.evaluators import require_extra
    from avgen.evaluators.wer import wer

    require_extra("pocketsphinx", "pocketsphinx", "the WER of the stylization metrics")
    return wer(as_wave(wave, "wave"), transcript)


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------


def score_clip(
    pred: Any,
    target: Any | None,
    example: Any,
    label: str | None,
    *,
    encoder: AmbienceEncoder,
    rt60_estimator: Any,
    input_speech: Any | None = None,
    transcript: str | None = None,
    denoised_rt60_estimator: Any | None = None,
) -> dict[str, float]:
    """Every per-clip metric of one stylized clip ``pred``.

    Args:
        pred: the system's output (16 kHz mono).
        target: the true stylized clip, or ``None`` (then the target-based keys are NaN).
        example: the condition clip of the target scene (another clip of the same "video").
        label: the target scene's ambience type, or ``None``.
        encoder: the ambience encoder (:func:`avgen.evaluators.ambience.ambience_encoder`).
        rt60_estimator: the blind RT60 estimator of ``rt60_error`` (the ambient-robust one:
            :func:`~avgen.evaluators.reverberation.default_rt60_estimator`).
        input_speech, transcript: with a transcript, the WER of ``pred`` and, when the input is
            given, of the input (NaN and a warning when pocketsphinx is missing).
        denoised_rt60_estimator: the estimator of ``rt60_error_denoised_bundled`` (``None``:
            the one bundled beside MVSD).

    Returns:
        ``stft_distance``, ``log_mel_distance``, ``rt60_error`` (``rt60_estimator``),
        ``rt60_error_denoised_bundled`` (both clips Wiener-enhanced first, then
        ``denoised_rt60_estimator``: see :func:`rt60_error`), ``embedding_distance`` (to the
        target), ``rt60_error_example``, ``embedding_distance_example`` (to the example),
        ``ambience_correct`` (1/0), ``wer``, ``wer_input`` (NaN where not computed).
    """
    nan = math.nan
    e_pred = encoder.embed(pred)
    out = {
        "stft_distance": nan,
        "log_mel_distance": nan,
        "rt60_error": nan,
        "rt60_error_denoised_bundled": nan,
        "embedding_distance": nan,
        "rt60_error_example": rt60_error(pred, example, rt60_estimator),
        "embedding_distance_example": float(embedding_distance(e_pred, encoder.embed(example))),
        "ambience_correct": nan,
        "wer": nan,
        "wer_input": nan,
    }
    if target is not None:
        out["stft_distance"] = stft_distance(pred, target)
        out["log_mel_distance"] = log_mel_distance(pred, target)
        out["rt60_error"] = rt60_error(pred, target, rt60_estimator)
        if denoised_rt60_estimator is None:
            from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

            denoised_rt60_estimator = bundled_rt60_estimator()
        out["rt60_error_denoised_bundled"] = rt60_error(
            pred, target, denoised_rt60_estimator, denoise=True
        )
        out["embedding_distance"] = float(embedding_distance(e_pred, encoder.embed(target)))
    if label is not None:
        if label not in encoder.config.classes:
            raise ConfigError(f"ambience type {label!r} is not one the encoder knows")
        out["ambience_correct"] = float(encoder.classify(pred) == label)
    if transcript is not None:
        try:
            out["wer"] = word_error(pred, transcript)
            if input_speech is not None:
                out["wer_input"] = word_error(input_speech, transcript)
        except MissingToolError as exc:
            logger.warning("stylization WER skipped: %s", exc)
    return out


def score_stylization(
    preds: Sequence[Any],
    targets: Sequence[Any | None] | None,
    examples: Sequence[Any],
    labels: Sequence[str | None] | None,
    *,
    inputs: Sequence[Any] | None = None,
    transcripts: Sequence[str | None] | None = None,
    encoder: AmbienceEncoder | None = None,
    rt60_estimator: Any | None = None,
    denoised_rt60_estimator: Any | None = None,
) -> dict[str, Any]:
    """Score a test set of stylized clips (``benchmarks/stylize_quality.py``'s entry point).

    Per-clip metrics (:func:`score_clip`) come back as float64 arrays ``(N,)`` under their own
    keys (for intervals); set-level values as floats:

    * ``frechet_distance`` -- between the patch embeddings of ``preds`` and of ``targets``
      (NaN without targets), ``frechet_distance_example`` -- of ``preds`` and ``examples``;
    * ``ambience_accuracy`` -- of the classifier on ``preds`` against ``labels`` (NaN without
      labels), and ``ambience_accuracy_target`` -- on the targets (the encoder's own ceiling);
    * ``n`` -- the number of clips.

    ``encoder`` defaults to the bundled one, ``rt60_estimator`` (``rt60_error``) to the
    ambient-robust RT60 estimator when bundled (else the MVSD one), ``denoised_rt60_estimator``
    (``rt60_error_denoised_bundled``, on Wiener-enhanced clips) to the one bundled beside MVSD.
    """
    n = len(preds)
    if n == 0:
        raise ConfigError("score_stylization needs at least one clip")
    targets = list(targets) if targets is not None else [None] * n
    labels = list(labels) if labels is not None else [None] * n
    inputs = list(inputs) if inputs is not None else [None] * n
    transcripts = list(transcripts) if transcripts is not None else [None] * n
    if any(len(x) != n for x in (targets, examples, labels, inputs, transcripts)):
        raise ConfigError("preds, targets, examples, labels, inputs and transcripts must align")
    if encoder is None:
        from avgen.models.scene.ambience_encoder import bundled_ambience_encoder

        encoder = bundled_ambience_encoder()
    if rt60_estimator is None:
        from avgen.evaluators.reverberation import default_rt60_estimator

        rt60_estimator = default_rt60_estimator()
    if denoised_rt60_estimator is None:
        from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

        denoised_rt60_estimator = bundled_rt60_estimator()
    rows = [
        score_clip(
            p,
            t,
            e,
            lab,
            encoder=encoder,
            rt60_estimator=rt60_estimator,
            denoised_rt60_estimator=denoised_rt60_estimator,
            input_speech=i,
            transcript=tr,
        )
        for p, t, e, lab, i, tr in zip(preds, targets, examples, labels, inputs, transcripts)
    ]
    out: dict[str, Any] = {k: np.array([r[k] for r in rows]) for k in rows[0]}

    def patches(waves: Sequence[Any]) -> torch.Tensor:
        return torch.cat([encoder.embed_patches(w) for w in waves])

    pred_patches = patches(preds)
    have_targets = all(t is not None for t in targets)
    out["frechet_distance"] = (
        frechet_distance(pred_patches, patches(targets)) if have_targets else math.nan
    )
    out["frechet_distance_example"] = frechet_distance(pred_patches, patches(examples))
    known = [i for i, lab in enumerate(labels) if lab is not None]
    out["ambience_accuracy"] = float(np.mean(out["ambience_correct"][known])) if known else math.nan
    out["ambience_accuracy_target"] = (
        ambience_accuracy([encoder.classify(targets[i]) for i in known], [labels[i] for i in known])
        if known and have_targets
        else math.nan
    )
    out["n"] = n
    return out
