"""Specification of the room kit (avgen.data.rooms.kit/dataset/viewpoints): splits that are
disjoint as promised, unpaired data that really lacks its partner, resumable and deterministic
builds, and viewpoints whose camera and light are jittered while the plain camera keeps its
pixels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from avgen.data.kit.records import UtteranceRecord, read_jsonl
from avgen.data.rooms import acoustics
from avgen.data.rooms.dataset import (
    PairedRooms,
    UnpairedClean,
    UnpairedReverberant,
    read_room_kit,
)
from avgen.data.rooms.kit import RoomKitOptions, build_room_kit, unpaired_counts
from avgen.data.rooms.picture import Camera, Lighting, render_room
from avgen.data.rooms.records import SPLITS
from avgen.data.rooms.spec import sample_room
from avgen.data.rooms.viewpoints import room_viewpoints
from avgen.errors import ConfigError, DataError

OPTIONS = RoomKitOptions(
    rooms=3, viewpoints_per_room=2, train_items_per_viewpoint=2, picture_size=32, seed=5
)


@pytest.fixture(scope="module")
def room_kit(tiny_kit, tmp_path_factory):
    """3 rooms x 2 viewpoints on the tiny speech kit (a few seconds)."""
    torch.set_num_threads(1)
    return build_room_kit(tmp_path_factory.mktemp("rooms") / "kit", tiny_kit, OPTIONS)


def _tree(root):
    """Every file of a kit but the build summary, by relative path -> bytes hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "roomkit.json"
    }


# ----------------------------------------------------------------------------------------------
# Pictures and viewpoints
# ----------------------------------------------------------------------------------------------


def test_default_camera_and_light_keep_the_plain_pixels():
    # sha256 of render_room's pixels before Camera/Lighting existed (same numpy build)
    before = {
        0: "6a63eb7b79db41a3bdfeb1104d030caefaca2b9fd3dfc4bf3bf70beab1a5aca9",
        1: "41a9472b140b735c7d2af79cac47dd4e25596d79078ecad0bb5e41b1cafe85bb",
    }
    for seed, digest in before.items():
        spec = sample_room(seed)
        plain = render_room(spec)
        assert hashlib.sha256(plain.tobytes()).hexdigest() == digest
        np.testing.assert_array_equal(
            plain, render_room(spec, camera=Camera(), lighting=Lighting())
        )


def test_viewpoints_move_talker_and_microphone_and_jitter_the_picture():
    room = sample_room(4)
    vps = room_viewpoints(room, "r", 3, seed=1)
    assert [v.id for v in vps] == ["r-v0", "r-v1", "r-v2"]
    assert (vps[0].spec.source, vps[0].spec.microphone) == (room.source, room.microphone)
    for v in vps:
        assert v.spec.dimensions == room.dimensions and v.spec.materials == room.materials
        assert 1.0 <= v.spec.distance <= 4.0
        assert v.camera != Camera() and v.lighting != Lighting()
        assert abs(v.camera.yaw_deg) <= 8 and max(abs(o) for o in v.camera.offset) <= 0.1
    assert len({(v.spec.source, v.spec.microphone, v.spec.seed) for v in vps}) == 3
    # deterministic, and viewpoint k does not depend on how many are drawn
    assert room_viewpoints(room, "r", 2, seed=1) == vps[:2]
    assert room_viewpoints(room, "r", 1, seed=2) != vps[:1]
    plain = room_viewpoints(room, "r", 1, seed=1, jitter=False)[0]
    assert (plain.camera, plain.lighting) == (Camera(), Lighting())
    # the jitter changes the picture, a little: same room, same placement
    a = render_room(room, 32)
    b = render_room(room, 32, camera=vps[0].camera, lighting=vps[0].lighting)
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.mean() > 1.0
    assert abs(float(a.mean()) - float(b.mean())) < 40
    with pytest.raises(ConfigError):
        Camera(fov_deg=200)


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------


def test_splits_are_disjoint_as_promised(room_kit):
    kit = read_room_kit(room_kit)
    items = kit.items
    assert set(items) == set(SPLITS)
    assert all(items[s] for s in SPLITS), {s: len(items[s]) for s in SPLITS}
    unseen_rooms = {r.id for r in kit.rooms if not r.seen}
    assert len(unseen_rooms) == 1 and len(kit.rooms) == 3
    assert len(kit.viewpoints) == 6
    for split in SPLITS:
        rooms = {i.room for i in items[split] if i.room is not None}
        if split == "test-unseen":
            assert rooms and rooms <= unseen_rooms
        else:
            assert not rooms & unseen_rooms, split
    # speech: train-* from the speech kit's train split, val from val, test-* from test
    speech = {
        u.id: u.split
        for u in read_jsonl(Path(kit.info.speech_kit) / "utterances.jsonl", UtteranceRecord)
    }
    expected = {"val": "val", "test-seen": "test", "test-unseen": "test"}
    for split in SPLITS:
        for item in items[split]:
            assert speech[item.utterance] == expected.get(split, "train"), (split, item.id)
    utts = {s: {i.utterance for i in items[s]} for s in SPLITS}
    paired, reverb, clean = (utts[s] for s in SPLITS[:3])
    assert not paired & reverb and not paired & clean and not reverb & clean
    # the partners really are missing
    for item in items["train-unpaired-reverberant"]:
        assert item.clean is None and item.reverberant and item.picture
        assert not (room_kit / "clean" / f"{item.utterance}.wav").exists()
    for item in items["train-unpaired-clean"]:
        assert item.reverberant is None and item.picture is None and item.viewpoint is None
    clean_files = {p.stem for p in (room_kit / "clean").glob("*.wav")}
    assert not clean_files & reverb
    for split in ("train-paired", "val", "test-seen", "test-unseen"):
        assert all(i.clean and i.reverberant and i.picture for i in items[split])


def test_unpaired_fraction_is_about_the_requested_one():
    # balanced when the speech kit has enough train utterances: 20 + 20 of 236 items, 17 %
    assert unpaired_counts(216, 1 / 6, 100)[:2] == (19, 20)
    for slots in (60, 216, 1000):
        for utterances in (6, 100, 1000):
            for fraction in (0.1, 1 / 6, 0.3):
                r, c, groups = unpaired_counts(slots, fraction, utterances)
                assert (r + c) / (slots + c) == pytest.approx(fraction, abs=1.5 / slots)
                assert 1 <= c <= max(1, utterances // 4) and 1 <= groups <= utterances - c - 1
    assert unpaired_counts(100, 0.0, 100) == (0, 0, 0)
    with pytest.raises(ConfigError, match="at least 3"):
        unpaired_counts(100, 0.2, 2)


def test_unpaired_fraction_in_a_built_kit(room_kit):
    kit = read_room_kit(room_kit)
    n = {s: len(kit.items[s]) for s in SPLITS}
    train = n["train-paired"] + n["train-unpaired-reverberant"] + n["train-unpaired-clean"]
    achieved = (n["train-unpaired-reverberant"] + n["train-unpaired-clean"]) / train
    assert achieved == pytest.approx(kit.info.extra["unpaired_fraction"], abs=1e-3)
    # 8 slots: 1 + 1 unpaired of 9 (the smallest kit cannot do better than 1 of each)
    assert n["train-unpaired-reverberant"] == n["train-unpaired-clean"] == 1
    assert achieved == pytest.approx(OPTIONS.unpaired_fraction, abs=0.1)


# ----------------------------------------------------------------------------------------------
# Audio and labels
# ----------------------------------------------------------------------------------------------


def test_reverberant_is_the_clean_through_the_viewpoint_response(room_kit):
    kit = read_room_kit(room_kit)
    item = kit.items["train-paired"][0]
    vp = kit.viewpoints[item.viewpoint]
    clean, _ = sf.read(room_kit / item.clean, dtype="float32")
    wet, _ = sf.read(room_kit / item.reverberant, dtype="float32")
    tail = round(OPTIONS.tail_seconds * 16_000)
    assert clean.size == wet.size == item.samples == item.speech_samples + tail
    assert not np.any(clean[item.speech_samples :])
    rir = np.load(room_kit / vp.rir)
    expected = np.convolve(clean[: item.speech_samples].astype(np.float64), rir)[: item.samples]
    np.testing.assert_allclose(wet, expected, atol=1e-5)
    assert item.rt60 == vp.rt60 and item.drr_db == vp.drr_db and item.picture == vp.picture
    assert 0.1 < vp.rt60 < 3.0 and len(vp.rt60_bands) == 6


def test_datasets_yield_what_each_split_promises(room_kit):
    paired = PairedRooms(room_kit, "test-unseen")
    ex = paired[0]
    assert ex.clean.shape == ex.reverberant.shape and ex.clean.dtype == torch.float32
    assert ex.picture.shape == (32, 32, 3) and ex.picture.dtype == torch.uint8
    assert ex.labels["rt60_bands"].shape == (6,) and float(ex.labels["rt60"]) > 0
    unpaired = UnpairedReverberant(room_kit, clip_seconds=0.5, seed=3)
    for ex in unpaired:
        assert not hasattr(ex, "clean") and "clean" not in ex._fields
        assert ex.reverberant.shape == (8000,) and ex.picture.shape == (32, 32, 3)
    (ex,) = list(UnpairedClean(room_kit))
    assert ex._fields == ("id", "clean")
    # aligned random crops, reproducible by seed
    crops = [PairedRooms(room_kit, clip_seconds=0.25, seed=7)[0] for _ in range(2)]
    torch.testing.assert_close(crops[0].clean, crops[1].clean)
    assert crops[0].clean.shape == crops[0].reverberant.shape == (4000,)
    batch = next(iter(torch.utils.data.DataLoader(PairedRooms(room_kit, clip_seconds=0.25), 2)))
    assert batch.clean.shape == (2, 4000) and batch.picture.shape == (2, 32, 32, 3)
    with pytest.raises(ConfigError, match="not paired"):
        PairedRooms(room_kit, "train-unpaired-reverberant")


# ----------------------------------------------------------------------------------------------
# Resumable, deterministic, clear errors
# ----------------------------------------------------------------------------------------------


def test_rerun_is_a_no_op_and_resume_does_not_resimulate(room_kit, tiny_kit, monkeypatch):
    calls = []
    real = acoustics.simulate_rir
    monkeypatch.setattr(acoustics, "simulate_rir", lambda spec: calls.append(spec) or real(spec))
    before = _tree(room_kit)
    build_room_kit(room_kit, tiny_kit, OPTIONS)  # complete: nothing to do
    assert calls == [] and _tree(room_kit) == before
    # an interrupted build: the summary, a viewpoint record and an item were not written
    (room_kit / "roomkit.json").unlink()
    with pytest.raises(DataError, match="incomplete"):
        read_room_kit(room_kit)
    next((room_kit / "records" / "viewpoints").glob("*.json")).unlink()
    item = next((room_kit / "records" / "items" / "val").glob("*.json"))
    item.unlink()
    build_room_kit(room_kit, tiny_kit, OPTIONS)
    assert calls == []  # the cached response was used
    assert _tree(room_kit) == before
    read_room_kit(room_kit)


def test_builds_are_deterministic(room_kit, tiny_kit, tmp_path):
    again = build_room_kit(tmp_path / "again", tiny_kit, OPTIONS)
    assert _tree(again) == _tree(room_kit)  # byte for byte
    other = build_room_kit(
        tmp_path / "other",
        tiny_kit,
        RoomKitOptions(
            **{
                **OPTIONS.__dict__,
                "seed": 6,
                "rooms": 2,
                "viewpoints_per_room": 1,
                "ray_tracing": False,
            }
        ),
    )
    assert (other / "rooms.jsonl").read_text() != (room_kit / "rooms.jsonl").read_text()


def test_clear_errors(room_kit, tiny_kit, tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        read_room_kit(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a room kit"):
        read_room_kit(tmp_path / "empty")
    with pytest.raises(DataError, match="not a room kit"):
        read_room_kit(tiny_kit)  # a speech kit (with its own records/) is not a partial room kit
    with pytest.raises(DataError, match="not a data kit"):
        build_room_kit(tmp_path / "x", tmp_path / "empty", OPTIONS)
    with pytest.raises(DataError, match="other options"):
        build_room_kit(room_kit, tiny_kit, RoomKitOptions(rooms=2, seed=5))
    # a partial build is resumed only with its own options
    partial = tmp_path / "partial"
    (partial / "records").mkdir(parents=True)
    (partial / "records" / "options.json").write_text('{"options": {}}')
    with pytest.raises(DataError, match="partial room kit"):
        build_room_kit(partial, tiny_kit, OPTIONS)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a room kit"):
        build_room_kit(tmp_path / "busy", tiny_kit, OPTIONS)
    with pytest.raises(ConfigError, match="unpaired fraction"):
        RoomKitOptions(unpaired_fraction=0.95)


def test_cli_builds_and_summarises(tiny_kit, tmp_path, capsys):
    from avgen.cli import main

    out = tmp_path / "cli"
    args = ["data", "rooms", "--out", str(out), "--speech", str(tiny_kit), "--rooms", "2"]
    assert main([*args, "--viewpoints", "1", "--items-per-viewpoint", "2", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "1 seen + 1 unseen rooms" in text and "test-unseen" in text and "RT60" in text
    assert "built in" in text
    assert main([*args, "--viewpoints", "2"]) != 0
    assert "--overwrite" in capsys.readouterr().err
