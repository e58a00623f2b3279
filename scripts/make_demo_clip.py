#!/usr/bin/env python
"""Pick the demo clip from a data kit and write it where ``avgen demo`` reads it.

    python scripts/make_demo_clip.py --kit /work/kits/full --out avgen/assets/samples/demo

Choice (deterministic): a test mixture with a noise type never seen in training, at 0 dB,
whose utterance is recorded human speech (``real``) lasting 3 to 4 s; noise types are preferred
in the order of ``--noise-types`` (babble first: speech-like noise, where the lips matter most),
then the duration closest to 3.5 s, then the id. Writes ``noisy.wav``, ``clean.wav`` (the
reference, i.e. the mixture's gain times the clean utterance), ``lips.npy`` (uint8, the kit's
frame rate) and ``clip.json`` (the mixture, utterance and noise records with their sources and
licences, the kit), under 1 MB in all -- the format of ``scripts/make_sample_set.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avgen.audio import load_audio, save_audio  # noqa: E402
from avgen.data.kit.records import (  # noqa: E402
    MixtureRecord,
    NoiseRecord,
    UtteranceRecord,
    read_jsonl,
    read_kit_info,
)
from avgen.data.lips.files import load_lips, save_lips  # noqa: E402
from avgen.errors import DataError  # noqa: E402
from avgen.files import write_json_atomic  # noqa: E402

MAX_BYTES = 1_000_000


def choose(
    kit: Path, noise_types: list[str], snr: float, min_s: float, max_s: float
) -> tuple[MixtureRecord, UtteranceRecord, NoiseRecord]:
    utterances = {u.id: u for u in read_jsonl(kit / "utterances.jsonl", UtteranceRecord)}
    noises = {n.id: n for n in read_jsonl(kit / "noise" / "noises.jsonl", NoiseRecord)}
    mixtures = read_jsonl(kit / "mixtures" / "test.jsonl", MixtureRecord)

    def rank(m: MixtureRecord) -> tuple:
        u = utterances[m.utterance_id]
        preference = noise_types.index(m.noise_type) if m.noise_type in noise_types else 99
        return (preference, not u.real, abs(u.duration - 0.5 * (min_s + max_s)), m.id)

    candidates = [
        m
        for m in mixtures
        if m.noise_split == "unseen"
        and math.isclose(m.snr_db, snr, abs_tol=1e-6)
        and m.utterance_id in utterances
        and min_s <= utterances[m.utterance_id].duration <= max_s
    ]
    if not candidates:
        raise DataError(
            f"{kit}: no unseen-noise test mixture at {snr:g} dB lasting {min_s}-{max_s} s"
        )
    best = min(candidates, key=rank)
    return best, utterances[best.utterance_id], noises.get(best.noise_id)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kit", required=True, type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "avgen" / "assets" / "samples" / "demo")
    p.add_argument("--noise-types", default="babble,tv,traffic,city,night")
    p.add_argument("--snr", type=float, default=0.0)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--max-seconds", type=float, default=4.0)
    args = p.parse_args(argv)
    info = read_kit_info(args.kit)
    mixture, utterance, noise = choose(
        args.kit, args.noise_types.split(","), args.snr, args.min_seconds, args.max_seconds
    )
    noisy = load_audio(args.kit / mixture.wav)
    clean = load_audio(args.kit / mixture.clean) * mixture.gain
    lips = load_lips(args.kit / mixture.lips)
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_audio(tmp / "noisy.wav", noisy)
    save_audio(tmp / "clean.wav", clean)
    save_lips(tmp / "lips.npy", lips, info.video_fps)
    write_json_atomic(
        tmp / "clip.json",
        {
            "mixture": dataclasses.asdict(mixture),
            "utterance": dataclasses.asdict(utterance),
            "noise": None if noise is None else dataclasses.asdict(noise),
            "video_fps": info.video_fps,
            "kit": {"size": info.size, "seed": info.seed, "avgen_version": info.avgen_version},
        },
    )
    total = sum(f.stat().st_size for f in tmp.iterdir())
    if total > MAX_BYTES:
        shutil.rmtree(tmp)
        raise SystemExit(f"the clip takes {total} bytes, over {MAX_BYTES}; choose a shorter one")
    shutil.rmtree(args.out, ignore_errors=True)
    tmp.rename(args.out)
    print(
        f"wrote {args.out} ({total / 1000:.0f} kB): {mixture.id} ({utterance.duration:.2f} s,"
        f" {utterance.source}, {mixture.noise_type} at {mixture.snr_db:g} dB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
