"""Real speech sources, speakers and splits, and the plans and production of a kit's speech."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from avgen.audio import SAMPLE_RATE
from avgen.data.kit.records import UtteranceRecord
from avgen.data.speech import recordings, speakers
from avgen.data.speech.licences import licence_files
from avgen.data.speech.phones import PHONE_SET, SILENCE
from avgen.data.speech.plan import (
    KIT_SIZES,
    MAX_TTS_CHARS,
    english_sentences,
    plan_babble,
    plan_utterances,
    tts_texts,
)
from avgen.data.speech.produce import babble_talkers, produce
from avgen.data.speech.vad import energy_vad, frame_energy_db
from avgen.errors import ConfigError

pytestmark = pytest.mark.system

ARCTIC = recordings.arctic_dir()
needs_arctic = pytest.mark.skipif(
    not (ARCTIC / "arctic_a0009.wav").exists(),
    reason=f"CMU ARCTIC clips not installed in {ARCTIC} (scripts/fetch_sdists.sh)",
)


# ----------------------------------------------------------------------------------------------
# Asterisk prompts
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(recordings.ASTERISK_VOICES))
def test_g722_prompts_decode_to_wideband_speech_at_a_sane_level(language):
    prompt = recordings.asterisk_prompts(language)[0]
    x = recordings.decode_g722(prompt.path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == 2 * os.path.getsize(prompt.path)  # 64 kbit/s -> 16 k samples/s
    assert np.abs(x).max() < 1.0
    energy = frame_energy_db(x)
    level_db = 10 * np.log10(np.mean(10 ** (energy[energy_vad(x)] / 10)))  # active speech
    assert -30 < level_db < -8
    f, p = scipy.signal.welch(x, SAMPLE_RATE, nperseg=1024)
    band = {
        name: 10 * np.log10(p[(f >= lo) & (f < hi)].mean())
        for name, (lo, hi) in {
            "low": (100, 1000),
            "mid": (1000, 4000),
            "high": (4000, 7000),
        }.items()
    }
    # speech: energy falls with frequency, yet the 4-7 kHz band of wideband G.722 is there
    assert band["low"] > band["mid"] > band["high"] > band["low"] - 60


@pytest.mark.parametrize("language", sorted(recordings.ASTERISK_VOICES))
def test_prompts_have_spoken_transcripts_and_last_long_enough(language):
    prompts = recordings.asterisk_prompts(language)
    assert len(prompts) > 300
    assert all(p.duration_hint >= recordings.MIN_PROMPT_SECONDS for p in prompts)
    assert all(p.text and not any(c in p.text for c in "[]<>") for p in prompts)
    assert all(Path(p.path).is_file() for p in prompts)
    voice = recordings.ASTERISK_VOICES[language]
    assert {(p.person, p.licence, p.source) for p in prompts} == {
        (voice.person, voice.licence, f"asterisk-core-sounds-{language}")
    }


def test_transcripts_lose_stage_directions():
    assert recordings.spoken_text("[ascending tones]") == ""
    assert recordings.spoken_text("(5 seconds of silence)") == ""
    assert recordings.spoken_text("at [@]") == "at"
    assert recordings.spoken_text('IAX (note: does not say "2")') == "IAX"
    english = recordings.read_transcripts("en")
    assert english["digits/1"] == "one"
    assert "beep" not in english  # "[this is a simple beep tone]"


def test_trimming_keeps_a_short_margin_of_silence():
    prompt = recordings.asterisk_prompts("en")[5]
    x = recordings.decode_g722(prompt.path)
    padded = np.concatenate(
        [np.zeros(SAMPLE_RATE, np.float32), x, np.zeros(SAMPLE_RATE, np.float32)]
    )
    trimmed = recordings.trim_silence(padded)
    assert len(x) - 0.3 * SAMPLE_RATE < len(trimmed) < len(x) + 0.25 * SAMPLE_RATE
    assert np.abs(trimmed[:800]).max() < 0.05  # starts in (near) silence


# ----------------------------------------------------------------------------------------------
# CMU ARCTIC
# ----------------------------------------------------------------------------------------------


@needs_arctic
def test_arctic_clips_and_labels():
    recs = {r.name: r for r in recordings.arctic_recordings()}
    assert set(recs) == {"arctic_a0007", "arctic_a0009"}
    slt = recs["arctic_a0009"]
    assert (slt.person, slt.gender, slt.speaker_id) == ("slt", "f", "arctic-slt")
    phones = recordings.read_hts_labels(slt.labels)
    spoken = [p.phone for p in phones if p.phone != SILENCE]
    assert spoken[:9] == "hh iy t er n d sh aa r".split()  # "he turned shar..."
    assert phones[-1].end == pytest.approx(3.075, abs=1e-6)
    assert phones[-1].end <= slt.duration_hint
    assert recs["arctic_a0007"].labels is None


def test_missing_arctic_folder_is_skipped_with_a_note(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="avgen"):
        assert recordings.arctic_recordings(tmp_path) == []
    assert "fetch_sdists.sh" in caplog.text


def test_arctic_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AVGEN_ARCTIC_DIR", str(tmp_path))
    assert recordings.arctic_dir() == tmp_path
    monkeypatch.delenv("AVGEN_ARCTIC_DIR")
    assert recordings.arctic_dir().parts[-3:] == ("share", "avgen", "arctic")


# ----------------------------------------------------------------------------------------------
# Speakers and splits
# ----------------------------------------------------------------------------------------------


def test_speakers_have_unique_ids_and_a_split_through_their_person():
    table = speakers.all_speakers()
    assert len({s.id for s in table}) == len(table)
    assert all(s.split in speakers.SPLIT_NAMES for s in table)
    by_person = collections.defaultdict(set)
    for s in table:
        by_person[s.person].add(s.split)
    assert all(len(splits) == 1 for splits in by_person.values())


@pytest.mark.parametrize(
    ("person", "members"),
    [
        ("slt", {"arctic-slt", "flite-slt", "festival-slt-hts"}),
        ("awb", {"arctic-awb", "flite-awb"}),
        ("kal", {"flite-kal16", "festival-kal-diphone"}),
        ("allison-smith", {"asterisk-en-allison-smith", "asterisk-es-allison-smith"}),
    ],
)
def test_voices_of_one_person_are_grouped(person, members):
    assert {s.id for s in speakers.all_speakers() if s.person == person} == members


def test_split_design():
    table = speakers.all_speakers()
    persons = {
        split: {s.person for s in table if s.split == split} for split in speakers.SPLIT_NAMES
    }
    assert len(persons["train"]) > len(persons["val"]) + len(persons["test"])
    for split in ("val", "test"):
        assert any(s.real for s in table if s.split == split)  # a real human speaker each
        assert any(not s.real for s in table if s.split == split)
    assert all(not s.real for s in speakers.babble_speakers())
    assert len({s.person for s in speakers.babble_speakers()}) == 8


# ----------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plans():
    return {size: plan_utterances(size, seed=0) for size in KIT_SIZES}


def test_plans_are_deterministic_and_seeded(plans):
    assert plan_utterances("small", seed=0) == plans["small"]
    other = plan_utterances("small", seed=1)
    assert [p.id for p in other] != [p.id for p in plans["small"]]
    assert {(p.split, p.real) for p in other} == {(p.split, p.real) for p in plans["small"]}


def test_plan_sizes(plans):
    assert len(plans["tiny"]) == 12
    assert 140 <= len(plans["small"]) <= 160
    assert len(plans["full"]) >= 2000
    for plan in plans.values():
        ids = [p.id for p in plan]
        assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("size", ["small", "full"])
def test_plan_splits_are_speaker_disjoint_and_mix_real_and_tts(plans, size):
    plan = plans[size]
    persons = collections.defaultdict(set)
    for p in plan:
        persons[p.person].add(p.split)
        assert p.split == speakers.speaker_by_id(p.speaker).split
    assert all(len(s) == 1 for s in persons.values())
    for split in ("train", "val", "test"):
        kinds = {p.real for p in plan if p.split == split}
        assert kinds == {True, False}, split
    babble = {s.id for s in speakers.babble_speakers()}
    assert not any(p.speaker in babble for p in plan)
    # train: the most speakers and the most real audio
    counts = collections.Counter(p.split for p in plan)
    assert counts["train"] > counts["val"] + counts["test"]
    n_speakers = {
        split: len({p.speaker for p in plan if p.split == split})
        for split in ("train", "val", "test")
    }
    assert n_speakers["train"] > max(n_speakers["val"], n_speakers["test"])
    hints = {r.path: r.duration_hint for r in recordings.arctic_recordings()}
    for language in recordings.ASTERISK_VOICES:
        hints.update((r.path, r.duration_hint) for r in recordings.asterisk_prompts(language))
    real_seconds = collections.Counter()
    for p in plan:
        if p.real:
            real_seconds[p.split] += hints[p.path]
    assert real_seconds["train"] > real_seconds["val"] + real_seconds["test"]


@needs_arctic
def test_arctic_clips_are_planned_in_val_and_test_when_installed(plans, tmp_path):
    arctic = {p.speaker: p.split for p in plans["small"] if p.engine == "arctic"}
    assert arctic == {"arctic-awb": "val", "arctic-slt": "test"}
    without = plan_utterances("small", seed=0, arctic_dir=str(tmp_path))
    assert not any(p.engine == "arctic" for p in without)


def test_babble_plans_use_only_reserved_voices():
    babble = plan_babble(20, seed=3)
    reserved = {s.id for s in speakers.babble_speakers()}
    assert len(babble) == 20 and all(p.speaker in reserved for p in babble)
    assert {p.split for p in babble} == {"babble"}


def test_babble_talkers_are_the_reserved_persons():
    talkers = babble_talkers(seed=0, seconds=1.5)
    reserved = {s.person for s in speakers.babble_speakers()}
    assert set(talkers) == reserved and len(talkers) == 8
    for wav in talkers.values():
        assert wav.dtype == np.float32 and len(wav) >= 1.5 * SAMPLE_RATE
        assert float(np.sqrt(np.mean(wav**2))) > 0.01


def test_tts_texts_cover_every_language():
    assert len(english_sentences()) >= 250
    for language in ("en", "es", "fr", "it", "ru"):
        texts = tts_texts(language)
        assert len(texts) > 150
        assert all(len(t) <= MAX_TTS_CHARS for t in texts)


def test_unknown_size_is_a_config_error():
    with pytest.raises(ConfigError, match="tiny"):
        plan_utterances("huge")


# ----------------------------------------------------------------------------------------------
# Production
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_produced(plans):
    return [(plan, produce(plan)) for plan in plans["tiny"]]


def test_tiny_kit_produces_speech_with_phones_and_record_fields(tiny_produced):
    record_fields = {f.name for f in dataclasses.fields(UtteranceRecord)}
    engines = set()
    for plan, (waveform, phones, fields) in tiny_produced:
        engines.add(plan.engine)
        assert waveform.dtype == np.float32 and waveform.ndim == 1
        assert float(np.sqrt(np.mean(waveform**2))) > 0.005
        duration = len(waveform) / SAMPLE_RATE
        assert fields["duration"] == pytest.approx(duration, abs=1e-3)
        assert phones[0].start == 0.0 and abs(phones[-1].end - duration) < 0.05
        assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(phones))
        assert {p.phone for p in phones} <= PHONE_SET
        assert any(p.phone != SILENCE for p in phones)
        assert set(fields) == record_fields - {"wav", "phones", "lips"}
        assert fields["timing"] in (
            {"forced-alignment", "dtw", "labels"} if plan.real else {"synthesizer"}
        )
        assert fields["real"] == plan.real and fields["split"] == plan.split
    assert engines == {"asterisk", "flite", "festival", "espeak"}
    timings = {fields["timing"] for _, (_, _, fields) in tiny_produced}
    assert {"synthesizer", "forced-alignment", "dtw"} <= timings


def test_production_is_a_pure_function_of_the_plan(tiny_produced):
    for plan, (waveform, phones, fields) in tiny_produced[2::3]:
        again = produce(plan)
        np.testing.assert_array_equal(again.waveform, waveform)
        assert again.phones == phones and again.fields == fields


@needs_arctic
def test_arctic_utterances_take_timing_from_labels_or_alignment(plans):
    arctic = [p for p in plans["small"] if p.engine == "arctic"]
    timing = {p.speaker: produce(p).fields["timing"] for p in arctic}
    assert timing == {"arctic-slt": "labels", "arctic-awb": "forced-alignment"}


def test_licence_notices_exist_for_every_source(plans):
    sources = {p.source for p in plans["full"]}
    files = licence_files(sources)
    assert all(f.is_file() and f.stat().st_size > 500 for f in files)
    names = {f.name for f in files}
    assert {"asterisk-core-sounds.txt", "flite.txt", "espeak-ng-data.txt"} <= names
