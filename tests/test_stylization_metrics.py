"""Stylization metrics: the Fréchet distance against closed forms for Gaussians, the per-clip
distances' symmetry and zeros, the bundled ambience encoder above chance on noise-bank clips it
never saw, and the scoring entry point."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from avgen.errors import AudioError, CheckpointError, ConfigError
from avgen.evaluators.stylization import (
    ambience_accuracy,
    embedding_distance,
    frechet_distance,
    frechet_distance_from_statistics,
    log_mel_distance,
    score_stylization,
    stft_distance,
)
from avgen.models.scene.ambience_encoder import (
    AmbienceEncoder,
    AmbienceEncoderConfig,
    AmbienceTrainConfig,
    bundled_ambience_encoder,
    fit_ambience_encoder,
    load_ambience_encoder,
    save_ambience_encoder,
)

SR = 16_000


@pytest.fixture(scope="module")
def encoder():
    return bundled_ambience_encoder()


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _spd(d: int, seed: int) -> np.ndarray:
    a = _rng(seed).standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


# ----------------------------------------------------------------------------------------------
# Fréchet distance
# ----------------------------------------------------------------------------------------------


def test_frechet_of_one_dimensional_gaussians_is_mean_and_std_gaps_squared():
    # W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2
    value = frechet_distance_from_statistics([1.0], [[4.0]], [-2.0], [[9.0]])
    assert value == pytest.approx(9.0 + 1.0, rel=1e-12)


def test_frechet_of_diagonal_gaussians_sums_over_dimensions():
    s1, s2 = np.array([0.5, 2.0, 3.0]), np.array([1.5, 0.25, 3.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    got = frechet_distance_from_statistics(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_of_non_commuting_covariances_matches_scipy_sqrtm():
    sa, sb = _spd(6, 1), _spd(6, 2)
    mu_a, mu_b = _rng(3).standard_normal(6), _rng(4).standard_normal(6)
    covmean = scipy.linalg.sqrtm(sa @ sb).real
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(sa + sb - 2 * covmean)
    got = frechet_distance_from_statistics(mu_a, sa, mu_b, sb)
    assert got == pytest.approx(expected, rel=1e-8)
    assert got == pytest.approx(frechet_distance_from_statistics(mu_b, sb, mu_a, sa), rel=1e-8)


def test_frechet_of_samples_is_that_of_their_mean_and_unbiased_covariance():
    a, b = _rng(5).standard_normal((400, 4)), 2.0 + 0.5 * _rng(6).standard_normal((300, 4))
    expected = frechet_distance_from_statistics(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
    assert frechet_distance(a, torch.from_numpy(b)) == pytest.approx(expected, rel=1e-12)
    # and it approaches the population value: |2 1|^2 + 4 (1 - 0.5)^2 = 16 + 1
    assert frechet_distance(a, b) == pytest.approx(17.0, rel=0.1)


def test_frechet_is_zero_for_identical_sets_and_rejects_bad_shapes():
    a = _rng(7).standard_normal((50, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ConfigError, match="N >= 2"):
        frechet_distance(a[:1], a)
    with pytest.raises(ConfigError, match="sizes differ"):
        frechet_distance(a, a[:, :4])
    with pytest.raises(ConfigError, match="NaN"):
        frechet_distance(np.full((3, 2), np.nan), a[:, :2])


# ----------------------------------------------------------------------------------------------
# Per-clip distances
# ----------------------------------------------------------------------------------------------


def test_embedding_distance_is_cosine_symmetric_and_zero_on_identical_input():
    e, f = torch.randn(5, 16), torch.randn(5, 16)
    d = embedding_distance(e, f)
    assert d.shape == (5,)
    assert torch.allclose(d, embedding_distance(f, e))
    assert torch.allclose(embedding_distance(e, e), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    assert float(embedding_distance(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0]))) == 2.0
    assert float(embedding_distance(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0]))) == 1.0
    with pytest.raises(ConfigError, match="must agree"):
        embedding_distance(e, f[:, :3])


def test_ambience_accuracy_counts_matches():
    assert ambience_accuracy(["rain", "city", "city"], ["rain", "city", "fire"]) == 2 / 3
    with pytest.raises(ConfigError):
        ambience_accuracy(["rain"], [])


def test_spectral_distances_are_zero_on_identical_clips_gain_free_and_symmetric():
    x = torch.from_numpy(_rng(8).standard_normal(SR).astype(np.float32))
    y = torch.from_numpy(_rng(9).standard_normal(SR).astype(np.float32)).cumsum(0) * 0.01
    assert stft_distance(x, x) == pytest.approx(0.0, abs=1e-10)
    assert log_mel_distance(x, 3.0 * x) == pytest.approx(0.0, abs=1e-6)
    assert log_mel_distance(x, y) == pytest.approx(log_mel_distance(y, x), rel=1e-9)
    assert log_mel_distance(x, y) > 5.0  # white vs brown: many dB apart
    with pytest.raises(AudioError, match="silent"):
        log_mel_distance(torch.zeros(SR), x)


# ----------------------------------------------------------------------------------------------
# The ambience encoder
# ----------------------------------------------------------------------------------------------


def test_bundled_encoder_classifies_fresh_noise_bank_clips_well_above_chance(encoder):
    """Procedural clips drawn with a seed the encoder never trained on (its weights: seed 0)."""
    from avgen.data.noise.bank import procedural_clip

    kinds = ("white", "pink", "brown", "hum", "clatter", "traffic")
    assert set(kinds) <= set(encoder.config.classes)
    hits = []
    for kind in kinds:
        for i in range(2):
            clip = procedural_clip(kind, i, seconds=2.0, seed=12345)
            hits.append(encoder.classify(clip.waveform) == kind)
    chance = 1.0 / len(encoder.config.classes)
    assert np.mean(hits) >= max(0.6, 5 * chance), hits


def test_bundled_encoder_is_gain_invariant_and_embeds_per_patch(encoder):
    x = torch.from_numpy(_rng(10).standard_normal(3 * SR).astype(np.float32))
    e = encoder.embed(x)
    assert e.shape == (encoder.config.embedding_dim,)
    assert torch.allclose(e, encoder.embed(0.01 * x), atol=1e-4)
    assert encoder.embed_patches(x).shape[0] == 1 + (301 - 100) // 50
    short = encoder.embed_patches(x[:4000])  # looped to one patch
    assert short.shape == (1, encoder.config.embedding_dim)
    with pytest.raises(AudioError, match="silent"):
        encoder.embed(torch.zeros(SR))


def test_a_tiny_encoder_learns_two_noise_colours_and_round_trips(tmp_path):
    rng = _rng(11)
    white = rng.standard_normal(4 * SR).astype(np.float32)
    brown = np.cumsum(rng.standard_normal(4 * SR)).astype(np.float32)
    config = AmbienceEncoderConfig(classes=("brown", "white"), width=4, embedding_dim=8)
    fit = fit_ambience_encoder(
        [("white", white), ("brown", brown)],
        config=config,
        train=AmbienceTrainConfig(steps=30, batch_size=8, lr=1e-2),
        seed=0,
        log_every=10,
    )
    assert len(fit.history) == 3
    assert fit.history[-1]["loss"] < fit.history[0]["loss"]
    assert fit.model.classify(rng.standard_normal(SR)) == "white"
    assert fit.model.classify(np.cumsum(rng.standard_normal(SR))) == "brown"
    path = save_ambience_encoder(tmp_path / "enc.pt", fit.model)
    again = load_ambience_encoder(path)
    assert torch.equal(again.embed(white[:SR]), fit.model.embed(white[:SR]))
    refit = fit_ambience_encoder(
        [("white", white), ("brown", brown)],
        config=config,
        train=AmbienceTrainConfig(steps=30, batch_size=8, lr=1e-2),
        seed=0,
        log_every=10,
    )
    assert torch.equal(refit.model.embed(white[:SR]), fit.model.embed(white[:SR]))


def test_encoder_errors():
    with pytest.raises(ConfigError, match="two distinct"):
        AmbienceEncoderConfig(classes=("a",))
    with pytest.raises(ConfigError, match="not among the classes"):
        fit_ambience_encoder([("c", np.ones(SR))], config=AmbienceEncoderConfig(classes=("a", "b")))
    with pytest.raises(CheckpointError):
        load_ambience_encoder("/nonexistent/enc.pt")
    model = AmbienceEncoder(AmbienceEncoderConfig(classes=("a", "b")))
    with pytest.raises(AudioError, match="NaN"):
        model.embed(np.full(SR, np.nan))
    with pytest.raises(AudioError, match="mono"):
        model.embed(np.ones((2, SR)))


# ----------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------


def test_score_stylization_on_a_perfect_and_a_wrong_system(encoder):
    from avgen.data.noise.bank import procedural_clip
    from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

    estimator = bundled_rt60_estimator()
    kinds = ("pink", "hum", "clatter")
    targets = [procedural_clip(k, 0, seconds=2.0, seed=777).waveform for k in kinds]
    examples = [procedural_clip(k, 1, seconds=2.0, seed=777).waveform for k in kinds]
    wrong = [procedural_clip("white", i, seconds=2.0, seed=777).waveform for i in range(3)]
    perfect = score_stylization(
        targets, targets, examples, list(kinds), encoder=encoder, rt60_estimator=estimator
    )
    bad = score_stylization(
        wrong, targets, examples, list(kinds), encoder=encoder, rt60_estimator=estimator
    )
    assert perfect["n"] == 3
    assert np.allclose(perfect["stft_distance"], 0.0)
    assert np.allclose(perfect["rt60_error"], 0.0)
    assert np.allclose(perfect["rt60_error_denoised_bundled"], 0.0)
    assert np.allclose(perfect["embedding_distance"], 0.0, atol=1e-6)
    assert perfect["frechet_distance"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["ambience_accuracy"] == perfect["ambience_accuracy_target"]
    assert bad["frechet_distance"] > 1.0
    assert np.all(bad["embedding_distance"] > perfect["embedding_distance"])
    assert np.all(bad["log_mel_distance"] > 1.0)
    assert math.isnan(bad["wer"][0])  # no transcript: no WER
    assert (
        np.all(bad["rt60_error"] >= 0.0) and np.isfinite(bad["rt60_error_denoised_bundled"]).all()
    )
    no_target = score_stylization(
        wrong, None, examples, None, encoder=encoder, rt60_estimator=estimator
    )
    assert math.isnan(no_target["frechet_distance"])
    assert np.isfinite(no_target["frechet_distance_example"])
    with pytest.raises(ConfigError, match="align"):
        score_stylization(wrong, targets[:2], examples, None, encoder=encoder)


def test_score_clip_gives_the_wer_of_output_and_input(encoder, monkeypatch):
    from avgen.data.speech.tts import synthesize_flite
    from avgen.evaluators import stylization
    from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

    text = "We should leave early if we want a table near the stage."
    speech = synthesize_flite(text, "slt").waveform  # pocketsphinx: WER 0 on it
    noise = _rng(12).standard_normal(speech.size).astype(np.float32)
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10 ** (5 / 10))  # 5 dB SNR
    args = dict(encoder=encoder, rt60_estimator=bundled_rt60_estimator())
    row = stylization.score_clip(
        speech + noise, None, speech, None, input_speech=speech, transcript=text, **args
    )
    assert row["wer_input"] < 0.2 and row["wer"] > 0.5  # the recogniser hears the noise
    assert math.isnan(row["stft_distance"]) and math.isnan(row["ambience_correct"])

    def missing(*_):
        raise stylization.MissingToolError("pocketsphinx is not installed")

    monkeypatch.setattr(stylization, "word_error", missing)
    row = stylization.score_clip(speech, None, speech, None, transcript=text, **args)
    assert math.isnan(row["wer"])  # a warning, not a crash


# ----------------------------------------------------------------------------------------------
# The ambient-robust RT60 estimator
# ----------------------------------------------------------------------------------------------


def _rooms_in_pink_noise(snr_db: float = 15.0) -> list[np.ndarray]:
    """flite speech through three synthetic rooms (T60 0.3 / 0.8 / 1.5 s in every band, DRR
    0 dB), pink noise added at ``snr_db``: the case where the MVSD-bundled estimator, trained
    without noise, hears the noise as reverberation."""
    import scipy.signal

    from avgen.data.noise.bank import procedural_clip
    from avgen.data.speech.tts import synthesize_flite
    from avgen.models.scene.image2reverb import synthesize_rir

    speech = synthesize_flite("We should leave early if we want a table near the stage.", "slt")
    s = speech.waveform.astype(np.float64)
    bands = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)
    clips = []
    for t60 in (0.3, 0.8, 1.5):
        h = synthesize_rir([t60] * 6, 0.0, band_centres=bands, tail_seconds=2.0, seed=0)
        y = scipy.signal.fftconvolve(s, h.numpy().astype(np.float64))
        noise = procedural_clip("pink", 0, seconds=y.size / SR + 0.1, seed=3).waveform
        n = noise[: y.size].astype(np.float64)
        clips.append(y + n * np.sqrt(np.mean(y**2) / np.mean(n**2) / 10 ** (snr_db / 10)))
    return [c.astype(np.float32) for c in clips]


def test_ambient_estimator_orders_noisy_rooms_that_the_noise_free_one_confuses():
    from avgen.evaluators.reverberation import bundled_ambient_rt60_estimator
    from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

    clips = _rooms_in_pink_noise()
    new = [bundled_ambient_rt60_estimator().estimate(c) for c in clips]
    old = [bundled_rt60_estimator().estimate(c) for c in clips]
    assert new[0] < new[1] < new[2]  # T60 0.3 < 0.8 < 1.5 s
    assert not (old[0] < old[1] < old[2])  # the noise-free estimator: ~1.8 s for all three
    truth = np.array([0.3, 0.8, 1.5])
    assert np.abs(np.array(new) - truth).mean() < np.abs(np.array(old) - truth).mean()


def test_default_rt60_estimator_is_the_ambient_one_when_bundled(monkeypatch):
    from avgen.evaluators import reverberation

    assert reverberation.has_bundled_ambient_rt60_estimator()
    model = reverberation.default_rt60_estimator()
    ambient = reverberation.bundled_ambient_rt60_estimator()
    assert torch.equal(model.out.weight, ambient.out.weight)
    monkeypatch.setattr(reverberation, "BUNDLED_AMBIENT_RT60_ESTIMATOR", "missing.pt")
    with pytest.raises(CheckpointError, match="ambient"):
        reverberation.bundled_ambient_rt60_estimator()
    fallback = reverberation.default_rt60_estimator()  # the one bundled beside MVSD
    assert not torch.equal(fallback.out.weight, ambient.out.weight)
