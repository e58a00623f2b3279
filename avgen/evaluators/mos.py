"""DNSMOS (C. K. A. Reddy, V. Gopal, R. Cutler, "DNSMOS P.835: a non-intrusive perceptual
objective speech quality metric to evaluate noise suppressors", ICASSP 2022) from PyPI
``speechmos`` (extra ``avgen[evaluators]``).

The ``speechmos`` wheel carries the ONNX models of Microsoft's DNS challenge
(``dnsmos_models/sig_bak_ovr.onnx``, the P.835 model, and ``model_v8.onnx``, the P.808 model);
onnxruntime runs them on the CPU, with no network. Its procedure is kept as is
(``speechmos.dnsmos.DNSMOS.__call__``): the 16 kHz clip is repeated until it lasts 9.01 s,
scored on 9.01 s windows hopped by 1 s, and the raw P.835 outputs are mapped by the challenge's
polynomial fits; the scores are the means over windows. Only the sessions are ours: one
thread each (``intra_op_num_threads=1``), created once per process.

Four numbers per clip (:class:`DnsmosScores`), on the 1-5 MOS scale: ``sig`` (speech signal
quality), ``bak`` (background noise intrusiveness), ``ovrl`` (overall quality), all three from
the P.835 model, and ``p808`` (the older P.808 overall MOS). :func:`mos_difference` uses
**OVRL**.

Cost: about 0.3-0.6 s per 9 s window on one core (a 3 s clip is repeated to 9 s or more and
scored on a few windows; a clip of 4.6-5 s gives exactly one).
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import AudioError
from avgen.evaluators import require_extra


@dataclass(frozen=True)
class DnsmosScores:
    """DNSMOS of one clip: P.835 ``sig``, ``bak``, ``ovrl`` and P.808 ``p808`` (1-5 scale)."""

    sig: float
    bak: float
    ovrl: float
    p808: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@functools.cache
def _scorer():
    """speechmos's DNSMOS object with single-threaded onnxruntime sessions (once per process)."""
    require_extra("speechmos", "speechmos", "DNSMOS")
    require_extra("onnxruntime", "onnxruntime", "DNSMOS")
    import onnxruntime as ort
    from speechmos import dnsmos as sm

    folder = os.path.join(os.path.dirname(os.path.abspath(sm.__file__)), "dnsmos_models")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    scorer = sm.DNSMOS.__new__(sm.DNSMOS)  # its __init__ would open default (all-core) sessions
    scorer.primary_model_path = os.path.join(folder, "sig_bak_ovr.onnx")
    scorer.onnx_sess = ort.InferenceSession(scorer.primary_model_path, options, providers=providers)
    scorer.p808_onnx_sess = ort.InferenceSession(
        os.path.join(folder, "model_v8.onnx"), options, providers=providers
    )
    return scorer


def _mono_16k(wave, sample_rate: int) -> np.ndarray:
    from avgen.audio import check_waveform, resample

    x = (
        wave.detach().cpu().double()
        if isinstance(wave, torch.Tensor)
        else torch.as_tensor(np.asarray(wave, dtype=np.float64))
    )
    check_waveform(x, name="wave", min_samples=1)
    if int(sample_rate) != SAMPLE_RATE:
        x = resample(x, int(sample_rate), SAMPLE_RATE)  # said aloud: DNSMOS works at 16 kHz
    return x.numpy().astype(np.float64)


def dnsmos(wave: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> DnsmosScores:
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 of mono speech.

    Audio at another rate is resampled to 16 kHz first. Samples beyond [-1, 1] are clipped (as
    writing the clip to a 16-bit file would), since the model takes the waveform as is.
    Deterministic. Raises MissingToolError without ``speechmos`` / ``onnxruntime``.
    """
    x = _mono_16k(wave, sample_rate)
    if x.size < SAMPLE_RATE // 10:
        raise AudioError(f"wave: {x.size} samples at 16 kHz; DNSMOS needs at least 0.1 s")
    scores = _scorer()(np.clip(x, -1.0, 1.0).astype(np.float32), SAMPLE_RATE, False)
    return DnsmosScores(
        sig=float(scores["sig_mos"]),
        bak=float(scores["bak_mos"]),
        ovrl=float(scores["ovrl_mos"]),
        p808=float(scores["p808_mos"]),
    )


def mos_difference(
    pred: np.ndarray | torch.Tensor,
    target: np.ndarray | torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
) -> float:
    """``|OVRL(pred) - OVRL(target)|``, the DNSMOS P.835 overall scores of two clips.

    A stand-in for MOSE (the MOS error of the visual acoustic matching papers, whose MOS
    predictor is not available offline): how far the predicted clip's overall quality is from
    the target's, in MOS points; 0 when they sound equally good, whatever their content.
    """
    return abs(dnsmos(pred, sample_rate).ovrl - dnsmos(target, sample_rate).ovrl)
