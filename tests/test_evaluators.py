"""Offline evaluators: WER and EER arithmetic against hand-computed cases; DNSMOS, pocketsphinx
and resemblyzer on flite speech, each skipped with its reason when its package is absent."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from avgen.errors import ConfigError, MissingToolError
from avgen.evaluators.speaker import equal_error_rate
from avgen.evaluators.wer import edit_operations, word_error_rate

SENTENCE = "The birch canoe slid on the smooth planks near the old river."
OTHER = "Glue the sheet to the dark blue background and wait."


def _needs(package: str, extra: str = "evaluators") -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed (pip install 'avgen[{extra}]')")


def _flite(text: str, voice: str) -> np.ndarray:
    from avgen.data.speech.tts import synthesize_flite

    return synthesize_flite(text, voice).waveform.astype(np.float64)


def _with_noise(clean: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.size)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return clean + noise


# ----------------------------------------------------------------------------------------------
# Arithmetic
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("The cat sat on the mat.", "the cat sat on mat", 1 / 6),  # one deletion
        ("a b c", "a x c d", 2 / 3),  # one substitution, one insertion
        ("a b", "", 1.0),  # two deletions
        ("a", "b c d", 3.0),  # one substitution, two insertions: WER above 1
        ("Hello, World!", "hello world", 0.0),  # case and punctuation
        ("3 cats", "three cats", 0.0),  # numbers in words
    ],
)
def test_word_error_rate_hand_computed(reference, hypothesis, expected):
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected, abs=1e-12)


def test_edit_operations_count_each_kind():
    # a b c d -> b c e d f: delete a, insert e, insert f (cost 3; all-substitution costs 4)
    assert edit_operations("a b c d".split(), "b c e d f".split()) == (0, 1, 2)
    assert edit_operations("a b c".split(), "x y z".split()) == (3, 0, 0)
    assert edit_operations([], "x y".split()) == (0, 0, 2)


def test_word_error_rate_of_an_empty_reference_is_an_error():
    with pytest.raises(ConfigError):
        word_error_rate("", "anything")


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        # targets 0.9 0.8 0.6, non-targets 0.7 0.5 0.4: at t = 0.7, FAR = FRR = 1/3
        ([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [1, 1, 0, 1, 0, 0], 1 / 3),
        # perfectly separated
        ([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], 0.0),
        # all the wrong way round
        ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 1.0),
        # t = 0.8: (FAR, FRR) = (1/2, 2/3); t = 0.7: (1/2, 1/3); crossing half way: 1/2
        ([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 1, 0], 0.5),
        # a tie of a target and a non-target at 0.7: (0, 1/2) -> (1/2, 0); crossing at 1/4
        ([0.9, 0.7, 0.7, 0.3], [1, 1, 0, 0], 0.25),
    ],
)
def test_equal_error_rate_hand_computed(scores, labels, expected):
    assert equal_error_rate(scores, labels) == pytest.approx(expected, abs=1e-12)
    # order of the trials does not matter
    perm = np.random.default_rng(0).permutation(len(scores))
    shuffled = equal_error_rate(np.asarray(scores)[perm], np.asarray(labels)[perm])
    assert shuffled == pytest.approx(expected, abs=1e-12)


def test_equal_error_rate_needs_both_kinds_of_trial():
    with pytest.raises(ConfigError):
        equal_error_rate([0.1, 0.2], [1, 1])
    with pytest.raises(ConfigError):
        equal_error_rate([0.1, 0.2], [1])


def test_a_missing_package_names_the_extra(monkeypatch):
    import avgen.evaluators as E
    from avgen.evaluators import mos, speaker

    monkeypatch.setattr(E.importlib.util, "find_spec", lambda name: None)
    for build in (mos._scorer.__wrapped__, speaker._encoder.__wrapped__):
        with pytest.raises(MissingToolError, match=r"avgen\[evaluators\]"):
            build()


# ----------------------------------------------------------------------------------------------
# The models on synthetic speech
# ----------------------------------------------------------------------------------------------


@pytest.mark.system
def test_dnsmos_rates_clean_speech_above_the_same_speech_in_heavy_white_noise():
    _needs("speechmos")
    _needs("onnxruntime")
    from avgen.evaluators.mos import dnsmos, mos_difference

    # two sentences cut to 4.7 s: repeated once to 9.4 s, DNSMOS scores one 9.01 s window
    clean = np.concatenate([_flite(SENTENCE, "rms"), _flite(OTHER, "rms")])[: 47 * 1600]
    noisy = np.clip(_with_noise(clean, 0.0), -1, 1)
    a, b = dnsmos(clean), dnsmos(noisy)
    assert all(1.0 <= v <= 5.0 for v in (*a.as_dict().values(), *b.as_dict().values()))
    assert a.ovrl > b.ovrl + 0.3 and a.bak > b.bak
    # deterministic: the difference recomputed from fresh calls is the same number
    assert mos_difference(noisy, clean) == pytest.approx(a.ovrl - b.ovrl, abs=1e-9)


@pytest.mark.system
def test_pocketsphinx_transcribes_clear_flite_speech():
    from avgen.evaluators.wer import transcribe, wer

    clean = _flite(SENTENCE, "rms")
    text = transcribe(clean)
    # measured: "the birch can you switch on the smooth plants near the old river", WER 4/12
    assert word_error_rate(SENTENCE, text) <= 0.5, text
    assert wer(clean, SENTENCE) == word_error_rate(SENTENCE, text)  # a reused decoder agrees


@pytest.mark.system
def test_resemblyzer_same_voice_is_closer_than_another_voice():
    _needs("resemblyzer")
    _needs("_webrtcvad")
    from avgen.evaluators.speaker import cosine_similarity, speaker_eer, speaker_embedding

    clips = {
        (v, i): _flite(t, v) for v in ("slt", "kal16") for i, t in enumerate((SENTENCE, OTHER))
    }
    emb = {k: speaker_embedding(w) for k, w in clips.items()}
    assert all(e.shape == (256,) and abs(np.linalg.norm(e) - 1) < 1e-4 for e in emb.values())
    for v, u in (("slt", "kal16"), ("kal16", "slt")):
        same = cosine_similarity(emb[v, 0], emb[v, 1])
        other = cosine_similarity(emb[v, 0], emb[u, 1])
        assert same > other + 0.1, (v, same, other)
    trials = [
        (clips["slt", 0], clips["slt", 1], True),
        (clips["kal16", 0], clips["kal16", 1], True),
        (clips["slt", 0], clips["kal16", 1], False),
        (clips["kal16", 0], clips["slt", 1], False),
    ]
    assert speaker_eer(trials) == 0.0


def test_a_clip_with_too_little_voice_for_the_vad_is_embedded_whole():
    _needs("resemblyzer")
    _needs("_webrtcvad")
    from avgen.evaluators.speaker import speaker_embedding

    quiet = np.random.default_rng(0).normal(size=8000).astype(np.float32) * 0.01
    emb = speaker_embedding(quiet)
    assert emb.shape == (256,) and np.isfinite(emb).all()
