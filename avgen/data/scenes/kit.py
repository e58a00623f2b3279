"""Build the scene-video kit of soundscape stylization (``avgen data scenes``).

:func:`build_scene_kit` turns a speech kit (``avgen data build``, whose noise bank gives the
ambience) and :class:`SceneKitOptions` into the layout of :mod:`avgen.data.scenes.records`:

1. **videos and scenes** (:func:`plan_scene_kit`): of ``V`` videos, ``round(u V)`` (at least
   one when ``V >= 4``) are ``test-unseen``, each in its own unseen scene (kinds cycling through
   :data:`~avgen.data.scenes.catalogue.UNSEEN_SCENE_CYCLE`); of the rest, ``round(V / 8)``
   each (at least one) are ``val`` and ``test-seen`` and the others ``train``, each train video
   in its own seen scene (kinds cycling through
   :data:`~avgen.data.scenes.catalogue.SEEN_SCENE_CYCLE`, from a seeded start). A ``val`` or
   ``test-seen`` video is a new video of a *training* scene (same picture, response and
   ambience recording; a new segment of the recording, a new level, new speech): the scene
   was seen, the moment was not.
2. **scenes**: indoor = a room of :func:`avgen.data.rooms.spec.sample_room`, its simulated
   response and its rendered picture with a jittered camera and light; train = a carriage
   shoebox (:func:`~avgen.data.scenes.openair.carriage_spec`) and a drawn carriage; other
   kinds = an open-air response (:func:`~avgen.data.scenes.openair.draw_open_air`) and a drawn
   picture (:func:`~avgen.data.scenes.outdoor.render_outdoor`). The ambience type is drawn by
   :func:`~avgen.data.scenes.catalogue.choose_ambience_type` (real recordings first), the
   recording uniformly among the bank's clips of that type.
3. **clips**: a video's speech is a seeded permutation of its split's speech-kit utterances
   (train, val, or test for both test splits), consumed without repeats: clip ``i`` starts with
   a lead of ``U(0.05, 0.25)`` s, then whole utterances separated by ``U(0.1, 0.3)`` s pauses
   while they fit; the first utterance of a clip is cut at the clip's end (10 ms fade) when it
   is longer. No utterance is shared by two clips of a video. The video's ambience track is
   ``C N`` samples of its recording from a seeded offset (looped with a crossfade when short,
   :func:`avgen.data.kit.mixing.noise_segment`), scaled once per video so that the P.56 active
   level of the video's ``speech_scene`` stream lies ``snr ~ U(snr_low, snr_high)`` dB above the
   track's RMS.
4. **triplets** of ``test-seen`` and ``test-unseen``: for every clip ``k`` of every video B of
   the split, the condition is clip ``(k + 1) mod C`` of B, the input a seeded clip of another
   test video A (either test split), and ``target.wav`` is A's dry speech through B's response
   plus the ambience of B's clip ``k``.

Resumable: a scene is committed by ``records/scenes/<id>.json`` (after its picture and
response), a video by ``records/videos/<id>.json`` (after all its clips' audio), a triplet by
``records/triplets/<id>.json``; a rerun skips what is committed and rewrites identical bytes for
what is not. ``scenekit.json`` is written last. Deterministic: a pure function of the options
and the speech kit (pyroomacoustics' ray tracer is seeded per scene).

``--enhanced`` (:mod:`avgen.data.scenes.enhanced`) then writes ``enhanced.wav`` next to every
clip (committed by the file itself); it may be added to a complete kit by a rerun.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avgen.data.records import check_reuse
from avgen.data.scenes.records import (
    BUILD_OPTIONS_FILE,
    SCENE_KIT,
    SPLITS,
    TEST_SPLITS,
    ClipRecord,
    SceneKitInfo,
    SceneRecord,
    TripletRecord,
    VideoRecord,
    read_info,
    read_json,
    record_from_dict,
    write_info,
    write_jsonl,
)
from avgen.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

SPEECH_SPLIT = {"train": "train", "val": "val", "test-seen": "test", "test-unseen": "test"}
"""The speech-kit split each scene-kit split takes its utterances from."""


@dataclass(frozen=True)
class SceneKitOptions:
    """How a scene kit is built (all of it goes into ``scenekit.json``).

    Attributes:
        videos: number of videos ``V``.
        clips_per_video: clips ``C`` per video (at least 2: a clip needs a sibling).
        clip_seconds: length of every clip.
        unseen_fraction: share of videos in unseen scenes (test-unseen).
        snr_low, snr_high: range of the per-video SNR (speech_scene over ambience), dB.
        picture_size: side of the pictures in pixels.
        ray_tracing: simulate the late tail of rooms by ray tracing (off: fast, for tests).
        seed: seed of every random choice.
    """

    videos: int = 24
    clips_per_video: int = 4
    clip_seconds: float = 2.0
    unseen_fraction: float = 0.25
    snr_low: float = 0.0
    snr_high: float = 15.0
    picture_size: int = 128
    ray_tracing: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.videos >= 1, f"videos must be >= 1, got {self.videos}"),
            (self.clips_per_video >= 2, f"clips per video must be >= 2: {self.clips_per_video}"),
            (
                math.isfinite(self.clip_seconds) and 0.5 <= self.clip_seconds <= 30.0,
                f"clip seconds must be in [0.5, 30], got {self.clip_seconds}",
            ),
            (
                0.0 <= self.unseen_fraction < 1.0,
                f"unseen fraction must be in [0, 1), got {self.unseen_fraction}",
            ),
            (
                math.isfinite(self.snr_low) and math.isfinite(self.snr_high)
                and self.snr_low <= self.snr_high,
                f"need snr_low <= snr_high, got {self.snr_low}, {self.snr_high}",
            ),
            (self.picture_size >= 16, f"picture size must be >= 16, got {self.picture_size}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * 16_000)


# ----------------------------------------------------------------------------------------------
# The plan (pure)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenePlan:
    id: str
    kind: str
    seen: bool


@dataclass(frozen=True)
class VideoPlan:
    id: str
    split: str
    scene: str


def plan_scene_kit(options: SceneKitOptions) -> tuple[list[ScenePlan], list[VideoPlan]]:
    """The scenes and videos of ``options`` (module docstring, step 1)."""
    from avgen.data.scenes.catalogue import SEEN_SCENE_CYCLE, UNSEEN_SCENE_CYCLE
    from avgen.seeding import derive_seed, numpy_generator

    v = options.videos
    n_unseen = round(options.unseen_fraction * v)
    if options.unseen_fraction > 0 and v >= 4:
        n_unseen = max(1, n_unseen)
    n_unseen = min(n_unseen, v - 1)
    n_seen = v - n_unseen
    n_eval = max(1, round(v / 8)) if n_seen >= 3 else 0
    n_val = n_test = n_eval
    n_train = n_seen - n_val - n_test
    rng = numpy_generator(derive_seed(options.seed, "scene-plan"))
    start_seen = int(rng.integers(len(SEEN_SCENE_CYCLE)))
    start_unseen = int(rng.integers(len(UNSEEN_SCENE_CYCLE)))
    scenes: list[ScenePlan] = []
    videos: list[VideoPlan] = []
    for i in range(n_train):
        kind = SEEN_SCENE_CYCLE[(start_seen + i) % len(SEEN_SCENE_CYCLE)]
        scenes.append(ScenePlan(f"scene-{len(scenes):03d}-{kind}", kind, True))
        videos.append(VideoPlan(f"video-{len(videos):03d}", "train", scenes[-1].id))
    train_scenes = [s.id for s in scenes]
    hosts = rng.permutation(len(train_scenes)) if train_scenes else np.zeros(0, dtype=int)
    for j, split in enumerate(["val"] * n_val + ["test-seen"] * n_test):
        scene = train_scenes[int(hosts[j % len(hosts)])]
        videos.append(VideoPlan(f"video-{len(videos):03d}", split, scene))
    for i in range(n_unseen):
        kind = UNSEEN_SCENE_CYCLE[(start_unseen + i) % len(UNSEEN_SCENE_CYCLE)]
        scenes.append(ScenePlan(f"scene-{len(scenes):03d}-{kind}", kind, False))
        videos.append(VideoPlan(f"video-{len(videos):03d}", "test-unseen", scenes[-1].id))
    return scenes, videos


# ----------------------------------------------------------------------------------------------
# Scenes
# ----------------------------------------------------------------------------------------------


def _commit(root: Path, kind: str, item_id: str) -> Path:
    return root / "records" / kind / f"{item_id}.json"


def make_scene(
    root: Path, plan: ScenePlan, bank: list[Any], speech_root: Path, options: SceneKitOptions
) -> SceneRecord:
    """Draw, simulate and render one scene, and commit its record."""
    from avgen.data.rooms import acoustics
    from avgen.data.rooms.picture import render_room
    from avgen.data.rooms.spec import sample_room
    from avgen.data.rooms.viewpoints import jitter_camera, jitter_lighting
    from avgen.data.scenes.catalogue import choose_ambience_type
    from avgen.data.scenes.openair import carriage_spec, draw_open_air
    from avgen.data.scenes.outdoor import render_outdoor
    from avgen.files import atomic_path, write_json_atomic
    from avgen.images import save_picture
    from avgen.seeding import derive_seed, numpy_generator

    seed = derive_seed(options.seed, "scene", plan.id)
    rng = numpy_generator(seed)
    size = options.picture_size
    if plan.kind == "indoor":
        spec = sample_room(derive_seed(seed, "room"), ray_tracing=options.ray_tracing)
        rir = acoustics.simulate_rir(spec)
        picture = render_room(spec, size, camera=jitter_camera(rng), lighting=jitter_lighting(rng))
        how, geometry = "room", spec.to_dict()
    elif plan.kind == "train":
        spec = carriage_spec(derive_seed(seed, "carriage"), ray_tracing=options.ray_tracing)
        rir = acoustics.simulate_rir(spec)
        picture = render_outdoor("train", size, seed=derive_seed(seed, "picture"))
        how, geometry = "carriage", spec.to_dict()
    else:
        rir, geometry = draw_open_air(plan.kind, derive_seed(seed, "open-air"))
        picture = render_outdoor(plan.kind, size, seed=derive_seed(seed, "picture"))
        how = "open-air"
    rt60 = drr = None
    if how != "open-air":
        labels = acoustics.measure_acoustics(rir)
        rt60 = labels.rt60 if math.isfinite(labels.rt60) else None
        drr = labels.drr_db if math.isfinite(labels.drr_db) else None
    types = sorted({n.type for n in bank})
    ambience = choose_ambience_type(plan.kind, plan.seen, types, rng)
    clips = sorted((n for n in bank if n.type == ambience), key=lambda n: n.id)
    noise = clips[int(rng.integers(len(clips)))]
    rel_pic, rel_rir = f"scenes/{plan.id}/picture.png", f"scenes/{plan.id}/rir.npy"
    save_picture(root / rel_pic, picture)
    with atomic_path(root / rel_rir) as tmp:
        np.save(tmp, np.asarray(rir, dtype=np.float32))
    record = SceneRecord(
        id=plan.id,
        kind=plan.kind,
        seen=plan.seen,
        picture=rel_pic,
        rir=rel_rir,
        rir_samples=int(np.asarray(rir).size),
        acoustics=how,
        geometry=geometry,
        rt60=rt60,
        drr_db=drr,
        ambience_type=ambience,
        ambience_seen=noise.split == "seen",
        noise_id=noise.id,
        noise_wav=noise.wav,
    )
    write_json_atomic(_commit(root, "scenes", plan.id), dataclasses.asdict(record))
    return record


# ----------------------------------------------------------------------------------------------
# Videos and clips
# ----------------------------------------------------------------------------------------------


def _fade_cut(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut to ``n`` samples with a 10 ms linear fade-out at the cut."""
    y = x[:n].astype(np.float32, copy=True)
    fade = min(160, n)
    y[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return y


def pack_clips(
    pool: list[Any], load: Any, n_clips: int, n: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, list[Any], bool]]:
    """The dry speech of ``n_clips`` clips of ``n`` samples from utterances ``pool`` (in the
    order given, none used twice): ``(dry, utterances, truncated)`` per clip."""
    out = []
    k = 0
    for c in range(n_clips):
        if k >= len(pool):
            raise ConfigError(
                f"the speech kit has {len(pool)} utterances in this split; a video of "
                f"{n_clips} clips needs more (use fewer --clips-per-video or a larger speech kit)"
            )
        dry = np.zeros(n, dtype=np.float32)
        t = int(rng.uniform(0.05, 0.25) * 16_000)
        used, truncated = [], False
        while k < len(pool):
            x = load(pool[k])
            if t + x.size > n:
                if used:
                    break
                x = _fade_cut(x, n - t)
                truncated = True
            dry[t : t + x.size] = x
            used.append(pool[k])
            k += 1
            t += x.size + int(rng.uniform(0.1, 0.3) * 16_000)
            if truncated or t >= n:
                break
        out.append((dry, used, truncated))
        del c
    return out


def make_video(
    root: Path,
    plan: VideoPlan,
    scene: SceneRecord,
    utterances: list[Any],
    speech_root: Path,
    options: SceneKitOptions,
) -> tuple[VideoRecord, list[ClipRecord]]:
    """Write every clip of one video and commit the video's record."""
    from scipy.signal import fftconvolve

    from avgen.audio import load_audio
    from avgen.data.kit.mixing import active_speech_level, noise_segment
    from avgen.data.rooms.kit import save_float_wav
    from avgen.files import write_json_atomic
    from avgen.seeding import derive_seed, numpy_generator

    rng = numpy_generator(derive_seed(options.seed, "video", plan.id))
    n, c = options.clip_samples, options.clips_per_video
    pool = sorted(
        (u for u in utterances if u.split == SPEECH_SPLIT[plan.split]), key=lambda u: u.id
    )
    pool = [pool[int(i)] for i in rng.permutation(len(pool))]

    def load(u: Any) -> np.ndarray:
        return load_audio(speech_root / u.wav).numpy().astype(np.float32)

    packed = pack_clips(pool, load, c, n, rng)
    rir = np.load(root / scene.rir).astype(np.float64)
    scene_speech = [
        fftconvolve(dry.astype(np.float64), rir)[:n].astype(np.float32) for dry, _, _ in packed
    ]
    noise = load_audio(speech_root / scene.noise_wav).numpy().astype(np.float64)
    offset = int(rng.integers(0, noise.size))
    track = noise_segment(noise, c * n, offset)
    snr = float(rng.uniform(options.snr_low, options.snr_high))
    level = active_speech_level(np.concatenate(scene_speech).astype(np.float64)).level_db
    ms = float(np.mean(track * track))
    if ms <= 0:
        raise DataError(
            f"{scene.noise_wav}: the ambience segment is silent; rebuild the speech kit"
        )
    scale = math.sqrt(10.0 ** ((level - snr) / 10.0) / ms)
    clips = []
    for i, ((dry, used, truncated), wet) in enumerate(zip(packed, scene_speech)):
        clip_id = f"{plan.id}-c{i}"
        folder = f"videos/{plan.id}/{clip_id}"
        amb = (scale * track[i * n : (i + 1) * n]).astype(np.float32)
        files = {"dry": dry, "speech_scene": wet, "ambience": amb, "clip": wet + amb}
        for name, x in files.items():
            save_float_wav(root / folder / f"{name}.wav", x, 16_000)
        clips.append(
            ClipRecord(
                id=clip_id,
                video=plan.id,
                index=i,
                split=plan.split,
                scene=scene.id,
                kind=scene.kind,
                ambience_type=scene.ambience_type,
                seen=scene.seen,
                samples=n,
                utterances=[u.id for u in used],
                texts=[u.text for u in used],
                speakers=[u.speaker for u in used],
                truncated=truncated,
                dry=f"{folder}/dry.wav",
                speech_scene=f"{folder}/speech_scene.wav",
                ambience=f"{folder}/ambience.wav",
                clip=f"{folder}/clip.wav",
                picture=scene.picture,
            )
        )
    video = VideoRecord(
        id=plan.id,
        split=plan.split,
        scene=scene.id,
        kind=scene.kind,
        ambience_type=scene.ambience_type,
        noise_offset=offset,
        snr_db=snr,
        ambience_scale=scale,
        clips=[r.id for r in clips],
    )
    write_json_atomic(
        _commit(root, "videos", plan.id),
        {"video": dataclasses.asdict(video), "clips": [dataclasses.asdict(r) for r in clips]},
    )
    return video, clips


# ----------------------------------------------------------------------------------------------
# Triplets
# ----------------------------------------------------------------------------------------------


def plan_triplets(
    videos: list[VideoRecord], options: SceneKitOptions
) -> list[tuple[str, str, VideoRecord, int, VideoRecord, int]]:
    """``(id, split, B, k, A, a)``: target ambience clip ``k`` of video B (condition clip
    ``(k + 1) mod C``), input clip ``a`` of video A (module docstring, step 4)."""
    from avgen.seeding import derive_seed, numpy_generator

    tests = [v for v in videos if v.split in TEST_SPLITS]
    out = []
    if len(tests) < 2:
        return out
    for b in tests:
        others = [v for v in tests if v.id != b.id]
        rng = numpy_generator(derive_seed(options.seed, "triplets", b.id))
        for k in range(len(b.clips)):
            a = others[int(rng.integers(len(others)))]
            ai = int(rng.integers(len(a.clips)))
            out.append((f"{b.id}-t{k}", b.split, b, k, a, ai))
    return out


def make_triplet(
    root: Path,
    plan: tuple[str, str, VideoRecord, int, VideoRecord, int],
    scenes: dict[str, SceneRecord],
    clips: dict[str, ClipRecord],
) -> TripletRecord:
    """Write one triplet's ``target.wav`` and commit its record."""
    from avgen.audio import load_audio
    from avgen.data.rooms.kit import save_float_wav
    from avgen.data.scenes.pairs import render_in_scene
    from avgen.files import write_json_atomic

    tid, split, b, k, a, ai = plan
    scene = scenes[b.scene]
    source = clips[a.clips[ai]]
    amb_clip = clips[b.clips[k]]
    cond = clips[b.clips[(k + 1) % len(b.clips)]]
    dry = load_audio(root / source.dry).numpy()
    amb = load_audio(root / amb_clip.ambience).numpy()
    rel = f"triplets/{split}/{tid}/target.wav"
    save_float_wav(root / rel, render_in_scene(dry, np.load(root / scene.rir), amb), 16_000)
    record = TripletRecord(
        id=tid,
        split=split,
        seen=scene.seen,
        input_video=a.id,
        input_clip=source.id,
        input=source.dry,
        condition_video=b.id,
        condition_clip=cond.id,
        condition=cond.clip,
        picture=scene.picture,
        target_ambience_clip=amb_clip.id,
        target=rel,
        scene=scene.id,
        kind=scene.kind,
        ambience_type=scene.ambience_type,
    )
    write_json_atomic(_commit(root, "triplets", tid), dataclasses.asdict(record))
    return record


# ----------------------------------------------------------------------------------------------
# The build
# ----------------------------------------------------------------------------------------------


def build_scene_kit(
    out: str | os.PathLike[str],
    speech_kit: str | os.PathLike[str],
    options: SceneKitOptions | None = None,
    *,
    enhanced: bool = False,
    enhance_iterations: int = 10,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Build (or resume building) the scene kit of ``options`` from ``speech_kit`` in ``out``.

    ``enhanced``: also write ``enhanced.wav`` of every clip
    (:func:`avgen.data.scenes.enhanced.enhance_clips`, ``enhance_iterations`` EM iterations);
    a complete kit without them gains them on a rerun with ``enhanced=True``.
    :class:`~avgen.errors.DataError` when ``speech_kit`` is not a complete speech kit or ``out``
    holds another kit (unless ``overwrite``); :class:`~avgen.errors.ConfigError` for impossible
    options. Returns the kit folder.
    """
    import pyroomacoustics

    from avgen import __version__
    from avgen.data.kit.records import (
        NoiseRecord,
        UtteranceRecord,
        manifest_hash,
        read_jsonl,
        read_kit_info,
    )
    from avgen.files import check_writable, make_folder, write_json_atomic
    from avgen.progress import progress_bar

    options = options or SceneKitOptions()
    speech_root = Path(speech_kit)
    read_kit_info(speech_root)  # DataError unless a complete speech kit
    utterances = read_jsonl(speech_root / "utterances.jsonl", UtteranceRecord)
    bank = read_jsonl(speech_root / "noise" / "noises.jsonl", NoiseRecord)
    manifest = manifest_hash(speech_root)
    root = Path(out)
    check_writable(root, folder=True)
    wanted = dataclasses.asdict(options)
    started = time.perf_counter()
    if check_reuse(root, wanted, manifest, overwrite, SCENE_KIT, read_info):
        info = read_info(root)
        if not enhanced or info.enhanced:
            logger.info("%s: the scene kit is already complete", root)
            return root
    scene_plans, video_plans = plan_scene_kit(options)
    make_folder(root / "records")
    write_json_atomic(root / BUILD_OPTIONS_FILE, {"options": wanted, "speech_manifest": manifest})

    scenes: dict[str, SceneRecord] = {}
    with progress_bar(len(scene_plans), desc="scenes", enabled=progress) as bar:
        for plan in scene_plans:
            path = _commit(root, "scenes", plan.id)
            if path.exists():
                scenes[plan.id] = record_from_dict(SceneRecord, read_json(path), str(path))
            else:
                scenes[plan.id] = make_scene(root, plan, bank, speech_root, options)
            bar.update(1)

    videos: list[VideoRecord] = []
    clips: dict[str, ClipRecord] = {}
    with progress_bar(len(video_plans), desc="videos", enabled=progress) as bar:
        for plan in video_plans:
            path = _commit(root, "videos", plan.id)
            if path.exists():
                data = read_json(path)
                video = record_from_dict(VideoRecord, data.get("video"), str(path))
                rows = [record_from_dict(ClipRecord, c, str(path)) for c in data.get("clips", [])]
            else:
                video, rows = make_video(
                    root, plan, scenes[plan.scene], utterances, speech_root, options
                )
            videos.append(video)
            clips.update({r.id: r for r in rows})
            bar.update(1)

    triplet_plans = plan_triplets(videos, options)
    triplets: list[TripletRecord] = []
    with progress_bar(len(triplet_plans), desc="test triplets", enabled=progress) as bar:
        for plan in triplet_plans:
            path = _commit(root, "triplets", plan[0])
            if path.exists():
                triplets.append(record_from_dict(TripletRecord, read_json(path), str(path)))
            else:
                triplets.append(make_triplet(root, plan, scenes, clips))
            bar.update(1)

    if enhanced:
        from avgen.data.scenes.enhanced import enhance_clips

        enhance_clips(
            root, list(clips.values()), iterations=enhance_iterations, seed=options.seed,
            progress=progress,
        )  # fmt: skip

    write_jsonl(root / "scenes.jsonl", [scenes[s.id] for s in scene_plans])
    write_jsonl(root / "videos.jsonl", videos)
    for split in SPLITS:
        write_jsonl(
            root / "clips" / f"{split}.jsonl", [c for c in clips.values() if c.split == split]
        )
    for split in TEST_SPLITS:
        write_jsonl(root / "triplets" / f"{split}.jsonl", [t for t in triplets if t.split == split])
    licences = speech_root / "LICENSES"
    if licences.is_dir():
        shutil.copytree(licences, root / "LICENSES", dirs_exist_ok=True)
    counts = {
        split: {
            "videos": sum(v.split == split for v in videos),
            "clips": sum(c.split == split for c in clips.values()),
            "triplets": sum(t.split == split for t in triplets),
        }
        for split in SPLITS
    }
    summary = scene_kit_summary(list(scenes.values()), videos)
    summary["build_seconds"] = round(time.perf_counter() - started, 1)
    summary["pyroomacoustics"] = pyroomacoustics.__version__
    write_info(
        root,
        SceneKitInfo(
            options=wanted,
            speech_kit=str(speech_root),
            speech_manifest=manifest,
            avgen_version=__version__,
            sample_rate=16_000,
            clip_samples=options.clip_samples,
            picture_size=options.picture_size,
            enhanced=enhanced,
            counts=counts,
            extra=summary,
        ),
    )
    return root


def scene_kit_summary(scenes: list[SceneRecord], videos: list[VideoRecord]) -> dict[str, Any]:
    """Scenes per kind and split, ambience types per split, SNR range."""
    kinds: dict[str, dict[str, int]] = {}
    for s in scenes:
        kinds.setdefault(s.kind, {"seen": 0, "unseen": 0})["seen" if s.seen else "unseen"] += 1
    types: dict[str, list[str]] = {}
    for v in videos:
        types.setdefault(v.split, [])
        if v.ambience_type not in types[v.split]:
            types[v.split].append(v.ambience_type)
    snr = [v.snr_db for v in videos]
    return {
        "scenes": kinds,
        "ambience_types": {k: sorted(t) for k, t in types.items()},
        "snr_db_min_max": [round(min(snr), 2), round(max(snr), 2)] if snr else [],
    }


def format_summary(root: str | os.PathLike[str]) -> str:
    """A few lines describing a complete scene kit (from its ``scenekit.json``)."""
    info = read_info(root)
    extra = info.extra
    lines = [
        f"scene kit {root}: {info.options.get('videos')} videos x "
        f"{info.options.get('clips_per_video')} clips of {info.options.get('clip_seconds')} s, "
        f"seed {info.options.get('seed')}, speech from {info.speech_kit}"
        + (", with enhanced clips" if info.enhanced else "")
    ]
    for split, c in info.counts.items():
        lines.append(
            f"  {split:12s} {c['videos']:4d} videos {c['clips']:5d} clips "
            f"{c['triplets']:5d} triplets"
            f"  ambience: {', '.join(extra.get('ambience_types', {}).get(split, []))}"
        )
    scenes = ", ".join(f"{k} {v['seen']}+{v['unseen']}" for k, v in extra.get("scenes", {}).items())
    lines.append(f"  scenes (seen+unseen): {scenes}")
    if "build_seconds" in extra:
        lines.append(f"  built in {extra['build_seconds']:.0f} s")
    return "\n".join(lines)
