"""Specification of the scene-video kit (avgen.data.scenes): deterministic and resumable builds,
splits that keep unseen scenes and ambience types to test-unseen, stylization pairs whose
condition always comes from the same video and whose dry content holds no ambience, test
triplets whose target is the input speech in the condition's scene, drawn pictures that differ
by scene kind, and a command line that fails in one line."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

from avgen.data.noise.catalogue import noise_type
from avgen.data.scenes.dataset import read_scene_kit
from avgen.data.scenes.kit import SceneKitOptions, build_scene_kit
from avgen.data.scenes.openair import open_air_rir
from avgen.data.scenes.outdoor import DRAWN_KINDS, render_outdoor
from avgen.data.scenes.pairs import NONSPEECH_SOURCES, stylize_pairs, stylize_test_items
from avgen.errors import ConfigError, DataError

OPTIONS = SceneKitOptions(
    videos=6, clips_per_video=2, clip_seconds=1.0, picture_size=32, ray_tracing=False, seed=3
)


@pytest.fixture(scope="module")
def scene_kit(tiny_kit, tmp_path_factory):
    """6 videos x 2 clips of 1 s on the tiny speech kit (a few seconds)."""
    return build_scene_kit(tmp_path_factory.mktemp("scenes") / "kit", tiny_kit, OPTIONS)


def _tree(root):
    """Every file of a kit but the build summary, by relative path -> bytes hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "scenekit.json"
    }


def _wav(kit, rel):
    return kit.audio(rel).numpy().astype(np.float64)


# ----------------------------------------------------------------------------------------------
# Builds
# ----------------------------------------------------------------------------------------------


def test_two_builds_are_byte_identical_and_an_interrupted_build_resumes(
    scene_kit, tiny_kit, tmp_path
):
    again = build_scene_kit(tmp_path / "again", tiny_kit, OPTIONS)
    reference = _tree(scene_kit)
    assert _tree(again) == reference
    # interrupt: drop the summary, the last video's commit and a clip file, a scene's picture
    (again / "scenekit.json").unlink()
    for rel in ("records/videos/video-005.json", "videos/video-005/video-005-c1/clip.wav"):
        (again / rel).unlink()
    scene = sorted((again / "records" / "scenes").iterdir())[-1]
    shutil.rmtree(again / "scenes" / scene.stem)
    scene.unlink()
    build_scene_kit(again, tiny_kit, OPTIONS)
    assert _tree(again) == reference
    # another seed is another kit, and the folder refuses it without --overwrite
    with pytest.raises(DataError, match="other options"):
        build_scene_kit(again, tiny_kit, SceneKitOptions(**{**OPTIONS.__dict__, "seed": 4}))


def test_clip_files_obey_the_documented_relations(scene_kit):
    kit = read_scene_kit(scene_kit)
    n = kit.info.clip_samples
    assert n == 16_000
    for clip in kit.clips.values():
        dry, wet = _wav(kit, clip.dry), _wav(kit, clip.speech_scene)
        amb, mix = _wav(kit, clip.ambience), _wav(kit, clip.clip)
        assert dry.size == wet.size == amb.size == mix.size == n
        np.testing.assert_allclose(mix, wet + amb, atol=1e-6)
        rir = np.load(scene_kit / kit.scenes[clip.scene].rir).astype(np.float64)
        np.testing.assert_allclose(wet, fftconvolve(dry, rir)[:n], atol=1e-5)
        assert np.std(amb) > 0 and np.max(np.abs(dry)) < 1.0
    for video in kit.videos.values():  # clips of a video share no utterance
        words = [u for c in video.clips for u in kit.clips[c].utterances]
        assert len(words) == len(set(words))


def test_splits_keep_unseen_scenes_and_ambience_types_to_test_unseen(scene_kit):
    kit = read_scene_kit(scene_kit)
    counts = {s: len(kit.split_clips(s)) for s in ("train", "val", "test-seen", "test-unseen")}
    assert all(c > 0 for c in counts.values()), counts
    train_scenes = {c.scene for c in kit.split_clips("train")}
    for clip in kit.clips.values():
        scene = kit.scenes[clip.scene]
        if clip.split == "test-unseen":
            assert not scene.seen and scene.id not in train_scenes
        else:
            assert scene.seen and noise_type(scene.ambience_type).split == "seen"
            assert scene.kind not in ("street", "market")
        if clip.split in ("val", "test-seen"):  # a new video of a training scene
            assert scene.id in train_scenes
    unseen = kit.split_clips("test-unseen")
    assert any(
        kit.scenes[c.scene].kind in ("street", "market")
        or noise_type(c.ambience_type).split == "unseen"
        for c in unseen
    )
    # train speech for train, test speech for both test splits
    speech = {u: s for s, c in kit.clips.items() for u in c.utterances}
    assert speech


# ----------------------------------------------------------------------------------------------
# Pairs and test items
# ----------------------------------------------------------------------------------------------


def test_pairs_take_the_condition_from_another_clip_of_the_same_video(scene_kit):
    kit = read_scene_kit(scene_kit)
    for split in ("train", "val", "test-seen", "test-unseen"):
        pairs = stylize_pairs(scene_kit, split, seed=1)
        assert len(pairs) == len(kit.split_clips(split))
        for p in pairs:
            assert p.example_clip != p.clip
            assert kit.clips[p.example_clip].video == p.video == kit.clips[p.clip].video
            np.testing.assert_array_equal(
                p.example.numpy(), kit.audio(kit.clips[p.example_clip].clip).numpy()
            )
            np.testing.assert_array_equal(p.target.numpy(), kit.audio(kit.clips[p.clip].clip))
            assert p.picture.shape == (3, 32, 32) and 0 <= p.picture.min() <= p.picture.max() <= 1


def test_dry_content_is_the_dry_speech_plus_the_stated_noise_and_no_ambience(scene_kit):
    kit = read_scene_kit(scene_kit)
    exact = stylize_pairs(scene_kit, "train", noise_std=0.0)
    noisy = stylize_pairs(scene_kit, "train", noise_std=0.05, seed=2)
    for p0, p in zip(exact, noisy):
        clip = kit.clips[p.clip]
        dry, amb = _wav(kit, clip.dry), _wav(kit, clip.ambience)
        np.testing.assert_array_equal(p0.content.numpy(), dry.astype(np.float32))
        residual = p.content.numpy().astype(np.float64) - dry
        ratio = np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(dry**2))
        assert ratio == pytest.approx(0.05, rel=0.05)
        corr = np.dot(residual, amb) / np.linalg.norm(residual) / np.linalg.norm(amb)
        assert abs(corr) < 0.05
        # whereas the target does hold the ambience
        target_res = p.target.numpy().astype(np.float64) - _wav(kit, clip.speech_scene)
        np.testing.assert_allclose(target_res, amb, atol=1e-6)
    assert stylize_pairs(scene_kit, "train", noise_std=0.05, seed=2)[0].content.equal(
        noisy[0].content
    )


def test_enhanced_content_fails_clearly_without_enhanced_clips(scene_kit):
    with pytest.raises(DataError, match="--enhanced"):
        stylize_pairs(scene_kit, "train", content="enhanced")
    with pytest.raises(ConfigError):
        stylize_pairs(scene_kit, "train", content="clean")
    with pytest.raises(ConfigError):
        stylize_pairs(scene_kit, "test", content="dry")


def test_test_items_put_the_input_speech_into_the_condition_scene(scene_kit):
    kit = read_scene_kit(scene_kit)
    for split in ("test-seen", "test-unseen"):
        items = stylize_test_items(scene_kit, split)
        assert len(items) == len(kit.split_clips(split))
        for item, t in zip(items, kit.triplets[split]):
            assert t.input_video != t.condition_video
            assert kit.clips[t.condition_clip].video == t.condition_video
            assert t.target_ambience_clip != t.condition_clip
            assert item.seen == (split == "test-seen")
            rir = np.load(scene_kit / kit.scenes[t.scene].rir).astype(np.float64)
            dry = item.content.numpy().astype(np.float64)
            amb = _wav(kit, kit.clips[t.target_ambience_clip].ambience)
            want = fftconvolve(dry, rir)[: dry.size] + amb
            np.testing.assert_allclose(item.target.numpy(), want, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# Pictures and acoustics
# ----------------------------------------------------------------------------------------------


def test_drawn_pictures_are_told_apart_by_their_mean_colour():
    def mean_colour(kind, seed):  # of the top and the bottom half
        return render_outdoor(kind, 64, seed=seed).reshape(2, -1, 3).mean(axis=1).ravel()

    centroids = {k: np.mean([mean_colour(k, s) for s in range(4)], axis=0) for k in DRAWN_KINDS}
    hits = [
        min(centroids, key=lambda k: np.linalg.norm(centroids[k] - mean_colour(kind, seed))) == kind
        for kind in DRAWN_KINDS
        for seed in range(10, 20)
    ]
    assert np.mean(hits) >= 0.9  # measured 0.97: a few streets look like the carriage
    forest, rain, beach = (centroids[k].reshape(2, 3).mean(0) for k in ("forest", "rain", "beach"))
    assert forest[1] > max(forest[0], forest[2])  # green
    assert rain.mean() < beach.mean()  # dark
    np.testing.assert_array_equal(
        render_outdoor("beach", 32, seed=5), render_outdoor("beach", 32, seed=5)
    )


def test_open_air_response_is_direct_path_plus_ground_reflection():
    h = open_air_rir(2.0, source_height=1.6, mic_height=1.4, ground=0.8)
    r0, rg = np.hypot(2.0, 0.2), np.hypot(2.0, 3.0)
    k = round((rg - r0) / 343.0 * 16_000)
    assert h[0] == 1.0 and h.size == k + 1
    assert h[k] == pytest.approx(0.8 * r0 / rg, rel=1e-6)
    assert np.count_nonzero(h) == 2


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def test_cli_fails_in_one_line_on_a_bad_speech_path(tmp_path):
    result = subprocess.run(
        [
            sys.executable, "-m", "avgen", "data", "scenes",
            "--out", str(tmp_path / "kit"), "--speech", str(tmp_path / "nowhere"),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0], result.stderr
    assert not (tmp_path / "kit").exists() or not any((tmp_path / "kit").iterdir())
    torch.set_num_threads(1)


def test_nonspeech_test_items_render_a_procedural_sound_into_the_same_scene(scene_kit):
    kit = read_scene_kit(scene_kit)
    speech = stylize_test_items(scene_kit, "test-unseen")
    items = stylize_test_items(scene_kit, "test-unseen", inputs="nonspeech", seed=3)
    assert [it.source for it in items][:4] == list(NONSPEECH_SOURCES)[: len(items[:4])]
    for item, sp, t in zip(items, speech, kit.triplets["test-unseen"]):
        assert item.source in NONSPEECH_SOURCES
        assert item.content.shape == sp.content.shape
        # not the speech, at the speech's RMS
        assert not torch.allclose(item.content, sp.content)
        assert torch.allclose(item.content.square().mean(), sp.content.square().mean(), rtol=1e-3)
        # the same scene, condition and ambience stretch as the speech triplet
        assert (item.scene, item.example_clip, item.id) == (sp.scene, sp.example_clip, sp.id)
        assert item.example.equal(sp.example) and item.picture.equal(sp.picture)
        rir = np.load(scene_kit / kit.scenes[t.scene].rir).astype(np.float64)
        dry = item.content.numpy().astype(np.float64)
        amb = _wav(kit, kit.clips[t.target_ambience_clip].ambience)
        want = fftconvolve(dry, rir)[: dry.size] + amb
        np.testing.assert_allclose(item.target.numpy(), want, atol=1e-5)
    again = stylize_test_items(scene_kit, "test-unseen", inputs="nonspeech", seed=3)
    assert all(a.content.equal(b.content) for a, b in zip(items, again))
    other = stylize_test_items(scene_kit, "test-unseen", inputs="nonspeech", seed=4)
    assert not other[0].content.equal(items[0].content)
    with pytest.raises(ConfigError, match="inputs"):
        stylize_test_items(scene_kit, "test-unseen", inputs="music")
