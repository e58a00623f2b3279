"""Build the room-scene kit for visual acoustic matching and dereverberation (``avgen data rooms``).

:func:`build_room_kit` turns a speech kit (``avgen data build``) and :class:`RoomKitOptions` into a
room kit in the layout of :mod:`avgen.data.rooms.records`:

1. **rooms** -- ``rooms`` shoeboxes by :func:`~avgen.data.rooms.spec.sample_room`, seeded per
   room; a seeded ``unseen_room_fraction`` of them (at least one when there are two rooms or
   more and the fraction is positive, never all) is *unseen*: it appears in ``test-unseen``
   only.
2. **viewpoints** -- ``viewpoints_per_room`` placements per room
   (:func:`~avgen.data.rooms.viewpoints.room_viewpoints`), each simulated once
   (:func:`~avgen.data.rooms.acoustics.simulate_rir`, cached in ``rirs/<vp>.npy``), labelled
   (:func:`~avgen.data.rooms.acoustics.measure_acoustics`: T30 broadband and per octave band,
   DRR) and rendered with its jittered camera and light
   (:func:`~avgen.data.rooms.picture.render_room`, ``pictures/<vp>.png``).
3. **items** -- speech through viewpoints (:func:`plan_items`):

   * ``train-*``: every viewpoint of a seen room gets ``train_items_per_viewpoint`` slots of
     speech-kit ``train`` utterances. With unpaired fraction ``f`` and ``R`` slots, ``r``
     seeded slots become ``train-unpaired-reverberant`` (picture and reverberant speech, no
     clean) and ``c`` further ``train`` utterances become ``train-unpaired-clean`` items
     (clean speech only), so that ``(r + c) / (R + c) ~ f`` of the training items are
     unpaired -- half of each kind, ``r = c = round(f R / (2 - f))``, when the speech kit has
     four times as many train utterances, else fewer clean-only and more reverberant-only
     ones (:func:`unpaired_counts`). MVSD trains with 17 % unpaired data; the default
     ``f = 1/6`` matches it. The train utterances are split into three disjoint groups --
     paired, unpaired-reverberant, unpaired-clean -- so no unpaired-reverberant utterance
     ever has a clean file in the kit, and the two unpaired sets share no speech; the
     achieved fraction is stored in ``roomkit.json``.
   * ``val``: ``eval_items_per_viewpoint`` speech-kit ``val`` utterances per seen viewpoint;
     ``test-seen``: the same with ``test`` utterances (rooms seen in training, unseen speech);
     ``test-unseen``: ``test`` utterances through the viewpoints of the unseen rooms. All
     three are paired.

   Audio follows the kit's length convention (``N + T`` samples, clean zero-padded, see
   :mod:`~avgen.data.rooms.records`) and is written as 32-bit float wav, so that reverberant
   peaks above 1 survive (by :func:`save_float_wav`, without libsndfile's time-stamped PEAK
   chunk, so that two builds give the same bytes).

Resumable: a viewpoint is committed by ``records/viewpoints/<vp>.json`` (written after its
response and picture), an item by ``records/items/<split>/<id>.json`` (after its audio); a
rerun skips what is committed and never re-simulates a response whose ``.npy`` exists.
``roomkit.json`` is written last, so its presence means the kit is complete. Deterministic: a
pure function of the options and the speech kit's utterance records (the ray tracer is
seeded per viewpoint).

Measured build time (one thread, ray tracing on, 2 CPU cores shared with other jobs at a load
of 6-7), the default 24 rooms x 3 viewpoints (72 responses and pictures):

* on the ``small`` speech kit (100 train utterances): 362 items -- 197 paired, 19
  reverberant-only + 20 clean-only (16.5 % of 236 training items), 54 val, 54 test-seen, 18
  test-unseen -- built in 25 s (33 s wall clock with start-up, 19 s of CPU), 122 MB, 360 MB
  peak memory;
* on the ``tiny`` speech kit (6 train utterances): 343 items (181 paired, 35 + 1 unpaired,
  16.6 %) in 40 s, 93 MB.

Simulation with ray tracing takes about 0.1-0.2 s per viewpoint, a picture 0.02-0.05 s. A
rerun of a complete kit does nothing; a build interrupted after 28 viewpoints resumed to
byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
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
from avgen.data.rooms.records import (
    BUILD_OPTIONS_FILE,
    ROOM_KIT,
    SPLITS,
    TRAIN_SPLITS,
    RoomItem,
    RoomKitInfo,
    RoomRecord,
    ViewpointRecord,
    read_info,
    record_from_dict,
    write_info,
    write_jsonl,
)
from avgen.data.rooms.spec import RoomSpec
from avgen.data.rooms.viewpoints import Viewpoint
from avgen.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoomKitOptions:
    """How a room kit is built (all of it goes into ``roomkit.json``).

    Attributes:
        rooms: number of rooms.
        viewpoints_per_room: source/microphone placements (and pictures) per room.
        unseen_room_fraction: share of rooms kept for ``test-unseen`` only.
        unpaired_fraction: share ``f`` of the training items that are unpaired
            (reverberant-only and clean-only, half each when the speech kit allows, see
            :func:`unpaired_counts`), in ``[0, 0.9]``.
        train_items_per_viewpoint: training utterances rendered through each seen viewpoint
            (paired or unpaired-reverberant).
        eval_items_per_viewpoint: val/test utterances per viewpoint.
        tail_seconds: ``T``, the reverberant tail kept after the utterance (and the zeros
            padded to the clean file).
        clip_seconds: use at most the first ``clip_seconds`` of each utterance (``None``: all).
        picture_size: side of the pictures in pixels.
        ray_tracing: simulate the late tail by ray tracing (off: image sources only, fast,
            for tests).
        jitter: jitter camera and light between viewpoints.
        seed: seed of every random choice.
    """

    rooms: int = 24
    viewpoints_per_room: int = 3
    unseen_room_fraction: float = 0.25
    unpaired_fraction: float = 1.0 / 6.0
    train_items_per_viewpoint: int = 4
    eval_items_per_viewpoint: int = 1
    tail_seconds: float = 1.0
    clip_seconds: float | None = None
    picture_size: int = 128
    ray_tracing: bool = True
    jitter: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.rooms >= 1, f"rooms must be >= 1, got {self.rooms}"),
            (
                self.viewpoints_per_room >= 1,
                f"viewpoints per room must be >= 1, got {self.viewpoints_per_room}",
            ),
            (
                0.0 <= self.unseen_room_fraction < 1.0,
                f"unseen room fraction must be in [0, 1), got {self.unseen_room_fraction}",
            ),
            (
                0.0 <= self.unpaired_fraction <= 0.9,
                f"unpaired fraction must be in [0, 0.9], got {self.unpaired_fraction}",
            ),
            (
                self.train_items_per_viewpoint >= 1 and self.eval_items_per_viewpoint >= 0,
                "need train_items_per_viewpoint >= 1 and eval_items_per_viewpoint >= 0",
            ),
            (
                math.isfinite(self.tail_seconds) and 0.0 <= self.tail_seconds <= 10.0,
                f"tail must be in [0, 10] seconds, got {self.tail_seconds}",
            ),
            (
                self.clip_seconds is None or self.clip_seconds > 0,
                f"clip seconds must be positive, got {self.clip_seconds}",
            ),
            (self.picture_size >= 8, f"picture size must be >= 8, got {self.picture_size}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


# ----------------------------------------------------------------------------------------------
# The plan: rooms, viewpoints, items (pure)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPlan:
    """One item to render: which utterance, through which viewpoint, with which files."""

    id: str
    split: str
    utterance: str
    viewpoint: str | None  # None: clean only
    with_clean: bool


@dataclass(frozen=True)
class RoomKitPlan:
    """Everything a build makes, before any of it is made."""

    rooms: list[tuple[str, RoomSpec, bool]]  # (id, spec, seen)
    viewpoints: list[Viewpoint]
    items: list[ItemPlan]


def plan_rooms(options: RoomKitOptions) -> tuple[list[tuple[str, RoomSpec, bool]], list[Viewpoint]]:
    """The rooms (id, spec, seen) and their viewpoints of ``options``."""
    from avgen.data.rooms.spec import sample_room
    from avgen.data.rooms.viewpoints import room_viewpoints
    from avgen.seeding import derive_seed, numpy_generator

    n = options.rooms
    n_unseen = round(options.unseen_room_fraction * n)
    if options.unseen_room_fraction > 0 and n >= 2:
        n_unseen = max(1, n_unseen)
    n_unseen = min(n_unseen, n - 1)
    order = numpy_generator(derive_seed(options.seed, "unseen-rooms")).permutation(n)
    unseen = {int(i) for i in order[:n_unseen]}
    rooms, viewpoints = [], []
    for r in range(n):
        room_id = f"room-{r:03d}"
        spec = sample_room(derive_seed(options.seed, "room", r), ray_tracing=options.ray_tracing)
        rooms.append((room_id, spec, r not in unseen))
        viewpoints += room_viewpoints(
            spec,
            room_id,
            options.viewpoints_per_room,
            seed=options.seed,
            jitter=options.jitter,
        )
    return rooms, viewpoints


def _item_id(viewpoint: str | None, utterance: str) -> str:
    return f"{viewpoint or 'clean'}__{utterance}"


def unpaired_counts(slots: int, fraction: float, utterances: int) -> tuple[int, int, int]:
    """How the training items split: ``(reverberant_only, clean_only, reverberant_groups)``.

    With ``R = slots`` reverberant training slots and unpaired fraction ``f``, the balanced
    choice is ``u = round(f R / (2 - f))`` of each kind, so that ``2u / (R + u) ~ f``. Clean-only
    items need distinct utterances, and at most a quarter of the ``utterances`` train
    utterances go to them (paired training keeps most of the speech variety): ``c = min(u,
    max(1, utterances // 4))``. The reverberant-only count then makes up the fraction:
    ``r = round(f (R + c)) - c``, clipped to ``[1, R - 1]``. ``reverberant_groups`` is the
    number of utterances reserved for reverberant-only items (their share of the remaining
    utterances, at least 1, leaving at least 1 for paired items).
    """
    if fraction <= 0 or slots < 2:
        return 0, 0, 0
    if utterances < 3:
        raise ConfigError(
            f"the speech kit has {utterances} train utterances; unpaired data needs at least 3 "
            "(paired, unpaired-reverberant and unpaired-clean use disjoint utterances); "
            "use a larger speech kit or --unpaired-fraction 0"
        )
    u = max(1, round(fraction * slots / (2.0 - fraction)))
    c = min(u, max(1, utterances // 4))
    r = min(slots - 1, max(1, round(fraction * (slots + c)) - c))
    groups = min(utterances - c - 1, max(1, round((utterances - c) * r / slots)))
    return r, c, groups


def plan_items(
    utterances: list[Any], seen: list[Viewpoint], unseen: list[Viewpoint], options: RoomKitOptions
) -> list[ItemPlan]:
    """The items of every split (see the module docstring). ``utterances`` are the speech
    kit's :class:`~avgen.data.kit.records.UtteranceRecord`; ``seen``/``unseen`` the
    viewpoints of seen and unseen rooms."""
    from avgen.seeding import derive_seed, numpy_generator

    by_split: dict[str, list[str]] = {}
    for u in sorted(utterances, key=lambda u: u.id):
        by_split.setdefault(u.split, []).append(u.id)

    def shuffled(ids: list[str], key: str) -> list[str]:
        rng = numpy_generator(derive_seed(options.seed, "utterances", key))
        return [ids[int(i)] for i in rng.permutation(len(ids))]

    train = shuffled(by_split.get("train", []), "train")
    slots = [(vp.id, j) for vp in seen for j in range(options.train_items_per_viewpoint)]
    if not train and slots:
        raise ConfigError("the speech kit has no train utterances")
    n_reverb, n_clean, n_groups = unpaired_counts(len(slots), options.unpaired_fraction, len(train))
    clean_group = train[:n_clean]
    reverb_group = train[n_clean : n_clean + n_groups]
    paired_group = train[n_clean + n_groups :]
    # reverberant-only slots: seeded, at most len(reverb_group) per viewpoint (distinct speech)
    rng = numpy_generator(derive_seed(options.seed, "unpaired-slots"))
    per_vp: dict[str, int] = {}
    unpaired_slots: set[int] = set()
    for i in rng.permutation(len(slots)):
        if len(unpaired_slots) == n_reverb:
            break
        vp = slots[int(i)][0]
        if per_vp.get(vp, 0) < len(reverb_group):
            per_vp[vp] = per_vp.get(vp, 0) + 1
            unpaired_slots.add(int(i))

    items: list[ItemPlan] = []
    taken: set[tuple[str, str]] = set()
    counters = {"paired": 0, "reverb": 0}
    for k, (vp, _) in enumerate(slots):
        kind, group = ("reverb", reverb_group) if k in unpaired_slots else ("paired", paired_group)
        utt = group[counters[kind] % len(group)]
        counters[kind] += 1
        if (vp, utt) in taken:  # fewer utterances than slots per viewpoint
            continue
        taken.add((vp, utt))
        split = "train-paired" if kind == "paired" else "train-unpaired-reverberant"
        items.append(ItemPlan(_item_id(vp, utt), split, utt, vp, kind == "paired"))
    for utt in clean_group:
        items.append(ItemPlan(_item_id(None, utt), "train-unpaired-clean", utt, None, True))

    for split, speech, vps in (
        ("val", "val", seen),
        ("test-seen", "test", seen),
        ("test-unseen", "test", unseen),
    ):
        pool = shuffled(by_split.get(speech, []), split)
        if not pool:
            continue
        k = 0
        for vp in vps:
            chosen = {pool[(k + j) % len(pool)] for j in range(options.eval_items_per_viewpoint)}
            k += options.eval_items_per_viewpoint
            for utt in sorted(chosen):
                items.append(ItemPlan(_item_id(vp.id, utt), split, utt, vp.id, True))
    return items


def plan_room_kit(utterances: list[Any], options: RoomKitOptions) -> RoomKitPlan:
    """Rooms, viewpoints and items of ``options`` for the speech kit's ``utterances``."""
    rooms, viewpoints = plan_rooms(options)
    seen_ids = {room_id for room_id, _, seen in rooms if seen}
    seen = [vp for vp in viewpoints if vp.room_id in seen_ids]
    unseen = [vp for vp in viewpoints if vp.room_id not in seen_ids]
    return RoomKitPlan(rooms, viewpoints, plan_items(utterances, seen, unseen, options))


# ----------------------------------------------------------------------------------------------
# Making viewpoints and items (each committed by its record)
# ----------------------------------------------------------------------------------------------


def _viewpoint_record_path(root: Path, vp_id: str) -> Path:
    return root / "records" / "viewpoints" / f"{vp_id}.json"


def _item_record_path(root: Path, item: ItemPlan) -> Path:
    return root / "records" / "items" / item.split / f"{item.id}.json"


def load_picture(path: str | os.PathLike[str]) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 picture of the kit; :class:`DataError` if it cannot be read."""
    from avgen.errors import ImageError
    from avgen.images import load_picture as read_picture

    try:
        return read_picture(path, size=None).pixels
    except ImageError as exc:
        raise DataError(f"{path}: not a readable picture ({exc}); rebuild the room kit") from None


def make_viewpoint(root: Path, vp: Viewpoint, seen: bool, picture_size: int) -> ViewpointRecord:
    """Simulate (or load the cached) response of ``vp``, measure its labels, render its
    picture, and commit its record."""
    from avgen.data.rooms import acoustics
    from avgen.data.rooms.picture import render_room
    from avgen.files import atomic_path, write_json_atomic

    rel_rir, rel_pic = f"rirs/{vp.id}.npy", f"pictures/{vp.id}.png"
    rir_path = root / rel_rir
    if rir_path.exists():
        rir = np.load(rir_path)
    else:
        rir = acoustics.simulate_rir(vp.spec)
        with atomic_path(rir_path) as tmp:
            np.save(tmp, rir)
    labels = acoustics.measure_acoustics(rir, vp.spec.sample_rate)
    picture = render_room(vp.spec, picture_size, camera=vp.camera, lighting=vp.lighting)
    from avgen.images import save_picture

    save_picture(root / rel_pic, picture)
    record = ViewpointRecord(
        id=vp.id,
        room=vp.room_id,
        index=vp.index,
        seen=seen,
        spec=vp.spec.to_dict(),
        camera=vp.camera.to_dict(),
        lighting=vp.lighting.to_dict(),
        picture=rel_pic,
        rir=rel_rir,
        rir_samples=int(rir.size),
        **labels.to_dict(),
    )
    write_json_atomic(_viewpoint_record_path(root, vp.id), dataclasses.asdict(record))
    return record


def save_float_wav(path: Path, x: np.ndarray, sample_rate: int) -> None:
    """Write mono float32 audio as an IEEE-float wav (atomic), byte-for-byte reproducible.

    libsndfile (and so :func:`avgen.audio.save_audio`) adds a PEAK chunk with a time stamp to
    float wavs, so the same samples written twice differ; scipy's writer adds nothing.
    """
    from scipy.io import wavfile

    from avgen.audio import check_waveform
    from avgen.files import atomic_path

    x = np.asarray(x, dtype=np.float32)
    check_waveform(x, name=str(path), min_samples=1, allow_silence=True)
    with atomic_path(path) as tmp:
        wavfile.write(tmp, sample_rate, x)


def _clean_signal(speech_root: Path, utterance: Any, options: RoomKitOptions) -> np.ndarray:
    """The utterance, cut to ``clip_seconds`` (float32)."""
    from avgen.audio import SAMPLE_RATE, load_audio

    x = load_audio(speech_root / utterance.wav).numpy().astype(np.float32)
    if options.clip_seconds is not None:
        x = x[: round(options.clip_seconds * SAMPLE_RATE)]
    return x


def make_item(
    root: Path,
    speech_root: Path,
    item: ItemPlan,
    utterance: Any,
    viewpoint: ViewpointRecord | None,
    options: RoomKitOptions,
) -> RoomItem:
    """Write the audio of ``item`` (clean file if it has one, reverberant file if it has a
    viewpoint) and commit its record."""
    from scipy.signal import fftconvolve

    from avgen.audio import SAMPLE_RATE
    from avgen.files import write_json_atomic

    x = _clean_signal(speech_root, utterance, options)
    n = x.size
    total = n + round(options.tail_seconds * SAMPLE_RATE)
    clean_rel = reverb_rel = None
    if item.with_clean:
        clean_rel = f"clean/{item.utterance}.wav"
        if not (root / clean_rel).exists():  # shared by every item of the utterance
            save_float_wav(root / clean_rel, np.pad(x, (0, total - n)), SAMPLE_RATE)
    if viewpoint is not None:
        rir = np.load(root / viewpoint.rir).astype(np.float64)
        y = fftconvolve(x.astype(np.float64), rir)[:total]
        y = np.pad(y, (0, total - y.size)).astype(np.float32)
        reverb_rel = f"reverberant/{item.split}/{item.id}.wav"
        save_float_wav(root / reverb_rel, y, SAMPLE_RATE)
    record = RoomItem(
        id=item.id,
        split=item.split,
        utterance=item.utterance,
        speaker=utterance.speaker,
        speech_samples=int(n),
        samples=int(total),
        clean=clean_rel,
        reverberant=reverb_rel,
        picture=viewpoint.picture if viewpoint else None,
        viewpoint=viewpoint.id if viewpoint else None,
        room=viewpoint.room if viewpoint else None,
        rt60=viewpoint.rt60 if viewpoint else None,
        rt60_bands=dict(viewpoint.rt60_bands) if viewpoint else None,
        drr_db=viewpoint.drr_db if viewpoint else None,
    )
    write_json_atomic(_item_record_path(root, item), dataclasses.asdict(record))
    return record


def _load_record(path: Path, cls: type) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: corrupt build record ({exc}); delete it and rerun") from None
    return record_from_dict(cls, data, str(path))


# ----------------------------------------------------------------------------------------------
# The build
# ----------------------------------------------------------------------------------------------


def _options_dict(options: RoomKitOptions) -> dict[str, Any]:
    return dataclasses.asdict(options)


def build_room_kit(
    out: str | os.PathLike[str],
    speech_kit: str | os.PathLike[str],
    options: RoomKitOptions | None = None,
    *,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Build (or resume building) the room kit of ``options`` from ``speech_kit`` in ``out``.

    Returns the kit folder. :class:`~avgen.errors.DataError` when ``speech_kit`` is not a
    complete speech kit, or ``out`` holds a kit (complete or partial) of other options or speech
    (unless ``overwrite``); :class:`~avgen.errors.ConfigError` for impossible options.
    ``progress``: draw bars (default: on a terminal, see :mod:`avgen.progress`).
    """
    import pyroomacoustics

    from avgen import __version__
    from avgen.audio import SAMPLE_RATE
    from avgen.data.kit.records import UtteranceRecord, manifest_hash, read_jsonl, read_kit_info
    from avgen.files import check_writable, make_folder, write_json_atomic
    from avgen.progress import progress_bar

    options = options or RoomKitOptions()
    speech_root = Path(speech_kit)
    read_kit_info(speech_root)  # DataError unless a complete speech kit
    utterances = read_jsonl(speech_root / "utterances.jsonl", UtteranceRecord)
    manifest = manifest_hash(speech_root)
    root = Path(out)
    check_writable(root, folder=True)
    if check_reuse(root, _options_dict(options), manifest, overwrite, ROOM_KIT, read_info):
        logger.info("%s: the room kit is already complete", root)
        return root
    plan = plan_room_kit(utterances, options)
    make_folder(root / "records")
    write_json_atomic(
        root / BUILD_OPTIONS_FILE,
        {"options": _options_dict(options), "speech_manifest": manifest},
    )
    started = time.perf_counter()
    seen_rooms = {room_id for room_id, _, seen in plan.rooms if seen}

    vp_records: dict[str, ViewpointRecord] = {}
    with progress_bar(len(plan.viewpoints), desc="viewpoints", enabled=progress) as bar:
        for vp in plan.viewpoints:
            path = _viewpoint_record_path(root, vp.id)
            if path.exists():
                vp_records[vp.id] = _load_record(path, ViewpointRecord)
            else:
                vp_records[vp.id] = make_viewpoint(
                    root, vp, vp.room_id in seen_rooms, options.picture_size
                )
            bar.update(1)

    by_id = {u.id: u for u in utterances}
    items: dict[str, list[RoomItem]] = {split: [] for split in SPLITS}
    with progress_bar(len(plan.items), desc="items", enabled=progress) as bar:
        for item in plan.items:
            path = _item_record_path(root, item)
            if path.exists():
                record = _load_record(path, RoomItem)
            else:
                vp = vp_records[item.viewpoint] if item.viewpoint else None
                record = make_item(root, speech_root, item, by_id[item.utterance], vp, options)
            items[item.split].append(record)
            bar.update(1)

    write_jsonl(
        root / "rooms.jsonl",
        [
            RoomRecord(
                room_id,
                seen,
                spec.to_dict(),
                [vp.id for vp in plan.viewpoints if vp.room_id == room_id],
            )
            for room_id, spec, seen in plan.rooms
        ],
    )
    write_jsonl(root / "viewpoints.jsonl", [vp_records[vp.id] for vp in plan.viewpoints])
    for split in SPLITS:
        write_jsonl(root / "items" / f"{split}.jsonl", items[split])
    licences = speech_root / "LICENSES"
    if licences.is_dir():
        shutil.copytree(licences, root / "LICENSES", dirs_exist_ok=True)
    summary = room_kit_summary(list(vp_records.values()), items)
    summary["build_seconds"] = round(time.perf_counter() - started, 1)
    summary["pyroomacoustics"] = pyroomacoustics.__version__
    write_info(
        root,
        RoomKitInfo(
            options=_options_dict(options),
            speech_kit=str(speech_root),
            speech_manifest=manifest,
            avgen_version=__version__,
            sample_rate=SAMPLE_RATE,
            tail_seconds=options.tail_seconds,
            picture_size=options.picture_size,
            counts={split: len(items[split]) for split in SPLITS},
            extra=summary,
        ),
    )
    return root


def room_kit_summary(
    viewpoints: list[ViewpointRecord], items: dict[str, list[RoomItem]]
) -> dict[str, Any]:
    """Rooms, viewpoints, label ranges and the achieved unpaired fraction."""
    rt60 = np.array([v.rt60 for v in viewpoints], dtype=np.float64)
    drr = np.array([v.drr_db for v in viewpoints], dtype=np.float64)
    n_train = sum(len(items[s]) for s in TRAIN_SPLITS)
    n_unpaired = len(items["train-unpaired-reverberant"]) + len(items["train-unpaired-clean"])

    def spread(x: np.ndarray) -> list[float]:
        x = x[np.isfinite(x)]
        if x.size == 0:
            return []
        return [round(float(v), 3) for v in (x.min(), np.median(x), x.max())]

    return {
        "rooms": {
            "seen": len({v.room for v in viewpoints if v.seen}),
            "unseen": len({v.room for v in viewpoints if not v.seen}),
        },
        "viewpoints": len(viewpoints),
        "rt60_min_median_max": spread(rt60),
        "drr_db_min_median_max": spread(drr),
        "unpaired_fraction": round(n_unpaired / n_train, 4) if n_train else 0.0,
        "speech_hours": {
            split: round(sum(i.speech_samples for i in rows) / 16_000 / 3600, 4)
            for split, rows in items.items()
        },
    }


def format_summary(root: str | os.PathLike[str]) -> str:
    """A few lines describing a complete room kit (from its ``roomkit.json``)."""
    info = read_info(root)
    extra = info.extra
    rooms = extra.get("rooms", {})
    lines = [
        f"room kit {root}: {rooms.get('seen', 0)} seen + {rooms.get('unseen', 0)} unseen rooms, "
        f"{extra.get('viewpoints', 0)} viewpoints, seed {info.options.get('seed')}, "
        f"speech from {info.speech_kit}"
    ]
    for split, count in info.counts.items():
        lines.append(f"  {split:27s} {count:5d} items")
    lines.append(f"  unpaired share of training items: {extra.get('unpaired_fraction', 0):.3f}")
    if extra.get("rt60_min_median_max"):
        lo, mid, hi = extra["rt60_min_median_max"]
        lines.append(f"  RT60 (T30) {lo:.2f} .. {hi:.2f} s, median {mid:.2f} s")
    if extra.get("drr_db_min_median_max"):
        lo, mid, hi = extra["drr_db_min_median_max"]
        lines.append(f"  DRR {lo:.1f} .. {hi:.1f} dB, median {mid:.1f} dB")
    if "build_seconds" in extra:
        lines.append(f"  built in {extra['build_seconds']:.0f} s")
    return "\n".join(lines)
