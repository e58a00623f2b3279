"""Build the offline audio-visual data kit (``avgen data build``).

One function, :func:`build_kit`, turns a size and a seed into a kit folder in the layout of
:mod:`avgen.data.kit.records`:

1. **speech** -- :func:`avgen.data.speech.plan.plan_utterances` lists the utterances (real prompts,
   CMU ARCTIC clips, TTS voices; speaker-disjoint splits); :func:`avgen.data.speech.produce.produce`
   makes each one's audio and phone timing. The audio is scaled to a common active speech
   level (ITU-T P.56, :func:`avgen.data.kit.mixing.active_speech_level`; default -26 dBFS, peaks
   kept below 0.99), since the sources differ by up to 10 dB.
2. **lips** -- :func:`avgen.data.lips.video.render_lips` draws the speaker's mouth region from the
   phones at the kit's frame rate, with head motion and lighting seeded per utterance.
3. **noise** -- the noise bank (:func:`avgen.data.noise.bank.noise_bank`): real ambience recordings
   and procedural types, babble made from talkers reserved for it
   (:func:`avgen.data.speech.produce.babble_talkers`), with the seen/unseen split of noise types.
4. **mixtures** -- the val and test utterances mixed with noise clips at the chosen SNRs
   (:func:`avgen.data.kit.mixing.plan_mixtures`, :func:`~avgen.data.kit.mixing.render_mixtures`).
5. **licences** -- every notice the used sources need, in ``LICENSES/``; ``kit.json`` last.

Resumable: each utterance is committed by its record file ``records/<id>.json``, written
after its wav, phones and lips; a rerun skips committed utterances and regenerates nothing
that is done. ``kit.json`` is written last, so its presence means the kit is complete.
Deterministic: a pure function of ``(size, seed, options)``; utterances are independent, so
``workers > 1`` gives the same files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avgen.errors import ConfigError, DataError
from avgen.files import write_json_atomic

logger = logging.getLogger(__name__)

DEFAULT_SNRS: tuple[float, ...] = (-5.0, 0.0, 5.0)
SPEECH_LEVEL_DB = -26.0
PEAK_LIMIT = 0.99

#: Mixtures per val/test utterance, by kit size (a seeded share of all type x SNR pairs).
MIXTURES_PER_UTTERANCE: dict[str, dict[str, int]] = {
    "tiny": {"val": 2, "test": 4},
    "small": {"val": 2, "test": 6},
    "full": {"val": 1, "test": 6},
}
#: Length of each procedural noise clip (s), by kit size.
NOISE_CLIP_SECONDS = {"tiny": 10.0, "small": 20.0, "full": 30.0}
#: Seconds of speech per babble talker, by kit size.
BABBLE_SECONDS = {"tiny": 8.0, "small": 15.0, "full": 30.0}


@dataclass(frozen=True)
class BuildOptions:
    """How a kit is built (all of it goes into ``kit.json``)."""

    size: str = "small"
    seed: int = 0
    video_fps: float = 25.0
    lip_size: int = 64
    speech_level_db: float = SPEECH_LEVEL_DB
    snrs: tuple[float, ...] = DEFAULT_SNRS
    arctic_dir: str | None = None


def normalize_level(waveform: np.ndarray, level_db: float) -> tuple[np.ndarray, float]:
    """Scale ``waveform`` to active speech level ``level_db`` (P.56), lowering it further if a
    peak would exceed :data:`PEAK_LIMIT`. Returns ``(scaled, gain)``."""
    from avgen.data.kit.mixing import active_speech_level

    level = active_speech_level(waveform).level_db
    gain = 10.0 ** ((level_db - level) / 20.0)
    peak = float(np.max(np.abs(waveform))) * gain
    if peak > PEAK_LIMIT:
        gain *= PEAK_LIMIT / peak
    return (waveform * gain).astype(np.float32), float(gain)


def _record_path(root: Path, uid: str) -> Path:
    return root / "records" / f"{uid}.json"


def make_utterance(root: str, plan_dict: dict, options_dict: dict) -> dict:
    """Produce, level, render lips for and write one planned utterance; return its record.

    A module-level function of plain data, so that a process pool can run it.
    """
    import torch

    from avgen.audio import save_audio
    from avgen.data.lips.files import save_lips
    from avgen.data.lips.video import render_lips
    from avgen.data.speech.phones import save_phones
    from avgen.data.speech.plan import UtterancePlan
    from avgen.data.speech.produce import produce
    from avgen.seeding import derive_seed

    torch.set_num_threads(1)
    kit = Path(root)
    options = BuildOptions(**options_dict)
    plan = UtterancePlan(**plan_dict)
    made = produce(plan)
    waveform, _ = normalize_level(made.waveform, options.speech_level_db)
    duration = len(waveform) / 16_000
    lips = render_lips(
        made.phones,
        duration,
        speaker=plan.speaker,
        fps=options.video_fps,
        size=options.lip_size,
        seed=derive_seed(options.seed, "lips", plan.id),
    )
    rel = {
        "wav": f"speech/{plan.id}.wav",
        "phones": f"phones/{plan.id}.json",
        "lips": f"lips/{plan.id}.npy",
    }
    save_audio(kit / rel["wav"], waveform)
    save_phones(kit / rel["phones"], made.phones)
    save_lips(kit / rel["lips"], lips, fps=options.video_fps)
    record = {**made.fields, **rel}
    write_json_atomic(_record_path(kit, plan.id), record)
    return record


def _produce_all(root: Path, plans: list, options: BuildOptions, workers: int) -> None:
    from avgen.progress import progress_bar

    todo = [p for p in plans if not _record_path(root, p.id).exists()]
    if len(todo) < len(plans):
        logger.info(
            "resuming: %d of %d utterances already built", len(plans) - len(todo), len(plans)
        )
    opts = dataclasses.asdict(options)
    with progress_bar(len(todo), desc="utterances") as bar:
        if workers <= 1:
            for plan in todo:
                make_utterance(str(root), dataclasses.asdict(plan), opts)
                bar.update(1)
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(make_utterance, str(root), dataclasses.asdict(p), opts) for p in todo
            ]
            for future in futures:
                future.result()
                bar.update(1)


def _read_records(root: Path, plans: list) -> list:
    from avgen.data.kit.records import UtteranceRecord

    records = []
    for plan in plans:
        data = json.loads(_record_path(root, plan.id).read_text(encoding="utf-8"))
        records.append(UtteranceRecord(**data))
    return records


def _build_noise(root: Path, options: BuildOptions) -> list:
    from avgen.data.kit.records import NoiseRecord, read_jsonl
    from avgen.data.noise.bank import noise_bank, write_noise_bank
    from avgen.data.speech.produce import babble_talkers

    manifest = root / "noise" / "noises.jsonl"
    if manifest.exists():
        return read_jsonl(manifest, NoiseRecord)
    talkers = babble_talkers(options.seed, seconds=BABBLE_SECONDS[options.size])
    clips = noise_bank(
        seed=options.seed,
        talkers=list(talkers.values()),
        clip_seconds=NOISE_CLIP_SECONDS[options.size],
    )
    return write_noise_bank(root, clips)


def _build_mixtures(root: Path, utterances: list, noises: list, options: BuildOptions) -> dict:
    from avgen.data.kit.mixing import plan_mixtures, render_mixtures

    counts = {}
    plan = []
    for split in ("val", "test"):
        if not any(u.split == split for u in utterances):
            continue
        plan += plan_mixtures(
            utterances,
            noises,
            split,
            options.snrs,
            per_utterance=MIXTURES_PER_UTTERANCE[options.size][split],
            seed=options.seed,
        )
    done = render_mixtures(root, plan)
    for rec in done:
        counts[rec.split] = counts.get(rec.split, 0) + 1
    return counts


def _copy_licences(root: Path, utterances: list) -> None:
    from avgen.data.speech.licences import licence_files

    dest = root / "LICENSES"
    dest.mkdir(parents=True, exist_ok=True)
    for notice in licence_files({u.source for u in utterances}):
        target = dest / ("speech-README.md" if notice.name == "README.md" else notice.name)
        shutil.copyfile(notice, target)


def build_kit(
    out: str | os.PathLike[str], options: BuildOptions, *, workers: int = 1, overwrite: bool = False
) -> Path:
    """Build (or resume building) the data kit of ``options`` in folder ``out``.

    Returns the kit folder. Raises :class:`~avgen.errors.DataError` if ``out`` already holds a
    complete kit of other options (unless ``overwrite``), ``ConfigError`` for bad options,
    ``MissingToolError`` when a system package the sources need is missing.
    """
    from avgen import __version__
    from avgen.data.kit.records import KitInfo, read_kit_info, write_jsonl, write_kit_info
    from avgen.data.speech.plan import KIT_SIZES, plan_utterances

    if options.size not in KIT_SIZES:
        raise ConfigError(f"unknown kit size {options.size!r}; choose from {', '.join(KIT_SIZES)}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not options.snrs:
        raise ConfigError("need at least one SNR for the mixtures")
    root = Path(out)
    if (root / "kit.json").exists():
        info = read_kit_info(root)
        same = info.size == options.size and info.seed == options.seed
        if not overwrite:
            if same:
                logger.info("%s: the kit is already complete", root)
                return root
            raise DataError(
                f"{root}: already holds a {info.size} kit with seed {info.seed}; "
                "choose another folder or pass --overwrite"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plans = plan_utterances(options.size, options.seed, arctic_dir=options.arctic_dir)
    _produce_all(root, plans, options, workers)
    utterances = _read_records(root, plans)
    write_jsonl(root / "utterances.jsonl", utterances)
    noises = _build_noise(root, options)
    mixtures = _build_mixtures(root, utterances, noises, options)
    _copy_licences(root, utterances)
    summary = kit_summary(utterances, noises, mixtures)
    summary["build_seconds"] = round(time.perf_counter() - started, 1)
    summary["options"] = {
        k: v
        for k, v in dataclasses.asdict(options).items()
        if k not in ("size", "seed", "video_fps", "lip_size", "arctic_dir")
    }
    write_kit_info(
        root,
        KitInfo(
            size=options.size,
            seed=options.seed,
            avgen_version=__version__,
            video_fps=options.video_fps,
            lip_size=options.lip_size,
            extra=summary,
        ),
    )
    return root


def kit_summary(utterances: Sequence, noises: Sequence, mixtures: dict) -> dict:
    """Counts and hours per split, for ``kit.json`` and the CLI's report."""
    speech: dict[str, dict[str, float]] = {}
    for u in utterances:
        row = speech.setdefault(
            u.split, {"utterances": 0, "hours": 0.0, "real_hours": 0.0, "speakers": 0}
        )
        row["utterances"] += 1
        row["hours"] += u.duration / 3600
        row["real_hours"] += u.duration / 3600 if u.real else 0.0
    for split, row in speech.items():
        row["speakers"] = len({u.speaker for u in utterances if u.split == split})
        row["hours"] = round(row["hours"], 3)
        row["real_hours"] = round(row["real_hours"], 3)
    noise: dict[str, list[str]] = {}
    for n in noises:
        if n.type not in noise.setdefault(n.split, []):
            noise[n.split].append(n.type)
    return {
        "speech": speech,
        "noise_types": noise,
        "noise_clips": len(noises),
        "mixtures": mixtures,
    }


def format_summary(root: str | os.PathLike[str]) -> str:
    """A few lines describing a complete kit (from its ``kit.json``)."""
    from avgen.data.kit.records import read_kit_info

    info = read_kit_info(root)
    extra = info.extra
    lines = [f"kit {root}: size {info.size}, seed {info.seed}, avgen {info.avgen_version}"]
    for split, row in extra.get("speech", {}).items():
        lines.append(
            f"  {split:5s} {row['utterances']:5d} utterances  "
            f"{row['hours'] * 60:6.1f} min ({row['real_hours'] * 60:.1f} min real)  "
            f"{row['speakers']} speakers"
        )
    for split, types in extra.get("noise_types", {}).items():
        lines.append(f"  noise {split}: {', '.join(types)}")
    mixtures = extra.get("mixtures", {})
    if mixtures:
        lines.append("  mixtures: " + ", ".join(f"{k} {v}" for k, v in mixtures.items()))
    if "build_seconds" in extra:
        lines.append(f"  built in {extra['build_seconds']:.0f} s")
    return "\n".join(lines)
