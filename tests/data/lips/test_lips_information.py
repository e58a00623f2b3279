"""The rendered lips carry information about the speech, on held-out utterances and speakers.

Corpus: 20 sentences spoken by 3 flite voices (kal16, awb, slt), with the synthesizer's exact
phone timing; each voice's lips are rendered with the speaker id of the voice (its own mouth),
and head motion and lighting drawn from a per-utterance seed.

(a) Lips -> log-mel energies: ridge regression from 16x16 lip frames (resampled to the STFT
    frames of hop 256) to 40 log-mel energies of the VAE STFT. Trained on sentences 0-9,
    ridge weight chosen on sentences 10-13, refitted on 0-13, scored on sentences 14-19 (held
    out, all three voices) by R^2 = 1 - MSE / MSE(training mean). Measured: R^2 = 0.41 clean,
    0.27 with the "moderate" degradations. Required: > 0.25 clean, > 0.12 degraded (averages
    over about 2,800 test frames of 18 utterances).
(b) Lips -> viseme class: multinomial logistic regression on 20 principal components of
    per-utterance-centred 16x16 frames, trained on kal16 and awb (sentences 0-13), tested on
    the unseen speaker slt on unseen sentences 14-19 (386 video frames). Measured: accuracy
    0.44 clean, 0.37 degraded; majority class 0.19, chance 1/14 = 0.07. Required: clean
    > 0.33 and > 1.7 x majority; degraded > majority + 0.08. With about 130 effectively
    independent frames (neighbouring frames are correlated), the standard error of an
    accuracy near 0.4 is about 0.043: 0.44 is 2.5 standard errors above 0.33 and 5.8 above
    the majority class.
(c) Degraded lips (blur, low resolution, occlusion, noise, dropped frames) stay informative
    but less so than clean ones in both (a) and (b).

Everything is seeded, so the numbers above are exactly reproducible on one platform; the
margins are for other BLAS/torch builds and for future changes to the renderer.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from avgen.audio import VAE_STFT, power_spectrogram
from avgen.data.lips.degrade import LipDegradations, degrade_lips
from avgen.data.lips.frames import lips_to_stft_frames
from avgen.data.lips.video import render_lip_video
from avgen.data.lips.visemes import VISEME_NAMES
from avgen.errors import MissingToolError
from avgen.seeding import derive_seed

pytestmark = [pytest.mark.system, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Small tensors: intra-op threads only add OpenMP barriers (costly on a loaded machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


SENTENCES = (
    "Bob put the map by the window and we saw five fish.",
    "She sells sea shells by the sea shore.",
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things.",
    "We will move the boat to the other side of the river.",
    "My mother would love to visit you in June.",
    "Few people know how to throw a boomerang well.",
    "The big oak tree fell over in the storm.",
    "Open the door, then walk through the room slowly.",
    "Five wives of the vicar vote for fresh fava beans.",
    "Judge the size of each ship by its shadow.",
    "Our wool sweaters shrink when you wash them hot.",
    "Think about the theory of everything with them.",
    "Mister Pope made a map of the moor by the bay.",
    "You can see the yellow boats from the bridge.",
    "Cheap chips and cheese were served at the show.",
    "Who knew the blue shoe was too loose for you?",
    "I like to fly kites on bright windy days.",
    "Look at the cook putting sugar in the pudding.",
    "Every evening we eat green peas and beets.",
)
VOICES = ("kal16", "awb", "slt")
TRAIN, VALID, TEST = range(0, 10), range(10, 14), range(14, 20)
FEATURE_SIZE = 16
N_MELS = 40


class Utterance:
    """Speech, log-mel energies and lips of one synthesized sentence."""

    def __init__(self, voice: str, index: int):
        from avgen.data.speech.tts import synthesize_flite

        syn = synthesize_flite(SENTENCES[index], voice)
        self.voice, self.index = voice, index
        self.duration = len(syn.waveform) / 16000
        power = power_spectrogram(torch.from_numpy(syn.waveform), VAE_STFT).numpy()
        self.log_mel = np.log(_mel_filters() @ power + 1e-8).T  # (T, 40)
        self.video = render_lip_video(
            syn.phones, self.duration, speaker=voice, seed=derive_seed(0, voice, index)
        )

    @functools.cached_property
    def degraded_frames(self) -> np.ndarray:
        frames, _ = degrade_lips(
            self.video.frames,
            LipDegradations.preset("moderate"),
            seed=derive_seed(1, self.voice, self.index),
        )
        return frames

    def frames(self, degraded: bool) -> np.ndarray:
        return self.degraded_frames if degraded else self.video.frames


@functools.cache
def _mel_filters() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=16000, n_fft=VAE_STFT.n_fft, n_mels=N_MELS)


@pytest.fixture(scope="session")
def corpus() -> dict[tuple[str, int], Utterance]:
    try:
        return {(v, i): Utterance(v, i) for v in VOICES for i in range(len(SENTENCES))}
    except MissingToolError as exc:
        pytest.skip(str(exc))


# --- (a) lips -> log-mel energies --------------------------------------------------------------


def _regression_data(corpus, keys, degraded):
    xs, ys = [], []
    for k in keys:
        u = corpus[k]
        lips = lips_to_stft_frames(
            u.frames(degraded),
            u.video.fps,
            u.log_mel.shape[0],
            hop_length=VAE_STFT.hop_length,
            size=FEATURE_SIZE,
        )
        xs.append(lips.reshape(len(lips), -1))
        ys.append(u.log_mel)
    return np.concatenate(xs).astype(np.float64), np.concatenate(ys)


def _ridge(x, y, lam):
    """Ridge regression on standardised features; returns the predictor (torch float64:
    single-threaded linear algebra, see ``_one_torch_thread``)."""
    x, y = torch.from_numpy(x), torch.from_numpy(y).double()
    mu, sd, ym = x.mean(0), x.std(0) + 1e-6, y.mean(0)
    a = (x - mu) / sd
    w = torch.linalg.solve(a.T @ a + lam * torch.eye(a.shape[1], dtype=a.dtype), a.T @ (y - ym))
    return lambda z: (((torch.from_numpy(z) - mu) / sd) @ w + ym).numpy()


def lips_to_log_mel_r2(corpus, degraded: bool) -> float:
    keys = lambda r: [(v, i) for v in VOICES for i in r]  # noqa: E731
    x_tr, y_tr = _regression_data(corpus, keys(TRAIN), degraded)
    x_va, y_va = _regression_data(corpus, keys(VALID), degraded)
    lams = 10.0 ** np.arange(0, 5)
    val_mse = [np.mean((_ridge(x_tr, y_tr, lam)(x_va) - y_va) ** 2) for lam in lams]
    lam = lams[int(np.argmin(val_mse))]
    x_fit, y_fit = np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])
    x_te, y_te = _regression_data(corpus, keys(TEST), degraded)
    mse = np.mean((_ridge(x_fit, y_fit, lam)(x_te) - y_te) ** 2)
    mse_mean = np.mean((y_fit.mean(0) - y_te) ** 2)
    return float(1 - mse / mse_mean)


# --- (b) lips -> viseme class ------------------------------------------------------------------


def _class_data(corpus, keys, degraded):
    xs, ys = [], []
    for k in keys:
        u = corpus[k]
        x = (
            torch.nn.functional.interpolate(
                torch.from_numpy(u.frames(degraded)).float()[:, None] / 255,
                size=(FEATURE_SIZE, FEATURE_SIZE),
                mode="area",
            )[:, 0]
            .flatten(1)
            .numpy()
        )
        xs.append(x - x.mean(0))  # per-utterance centring: removes the face
        ys.append(u.video.visemes)
    return np.concatenate(xs).astype(np.float64), np.concatenate(ys)


def viseme_accuracy(corpus, degraded: bool, n_components: int = 20) -> tuple[float, float]:
    """Held-out accuracy of the classifier and of the training majority class."""
    train = [(v, i) for v in ("kal16", "awb") for i in (*TRAIN, *VALID)]
    test = [("slt", i) for i in TEST]
    x_tr, y_tr = _class_data(corpus, train, degraded)
    x_te, y_te = _class_data(corpus, test, degraded)
    x_tr, x_te = torch.from_numpy(x_tr), torch.from_numpy(x_te)
    mu = x_tr.mean(0)
    _, eigvec = torch.linalg.eigh((x_tr - mu).T @ (x_tr - mu))  # ascending eigenvalues
    proj = eigvec[:, -n_components:]
    z_tr, z_te = (x_tr - mu) @ proj, (x_te - mu) @ proj
    sd = z_tr.std(0)
    z_tr, z_te = z_tr / sd, z_te / sd
    n_classes = len(VISEME_NAMES)
    w = torch.zeros(n_components, n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")
    targets = torch.from_numpy(y_tr)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z_tr @ w + b, targets) + 1e-3 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (z_te @ w + b).argmax(1).numpy()
    majority = np.bincount(y_tr, minlength=n_classes).argmax()
    return float(np.mean(pred == y_te)), float(np.mean(y_te == majority))


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scores(corpus) -> dict[str, float]:
    out = {}
    for degraded in (False, True):
        tag = "degraded" if degraded else "clean"
        out[f"r2_{tag}"] = lips_to_log_mel_r2(corpus, degraded)
        out[f"acc_{tag}"], out["majority"] = viseme_accuracy(corpus, degraded)
    return out


def test_lips_predict_log_mel_energies_of_held_out_utterances(scores):
    assert scores["r2_clean"] > 0.25, scores


def test_lips_tell_visemes_of_an_unseen_speaker(scores):
    chance = 1 / len(VISEME_NAMES)
    assert scores["majority"] < 0.3
    assert scores["acc_clean"] > 0.33, scores
    assert scores["acc_clean"] > 1.7 * scores["majority"] and scores["acc_clean"] > 4 * chance


def test_degraded_lips_are_still_informative_but_less(scores):
    assert scores["r2_degraded"] > 0.12, scores
    assert scores["acc_degraded"] > scores["majority"] + 0.08, scores
    assert scores["r2_degraded"] < scores["r2_clean"], scores
    assert scores["acc_degraded"] < scores["acc_clean"], scores
