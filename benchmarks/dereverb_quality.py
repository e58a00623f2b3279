"""Quality of unsupervised dereverberation on simulated rooms: the reverberant input, the WPE
baseline and :func:`avgen.pipelines.diffusion.dereverberate` (diffusion prior + room estimated
jointly), scored against the dry test-split speech (SI-SDR, PESQ-WB, ESTOI) and, for the room,
the error of the estimated T60 against the Schroeder T30 of the true impulse response.

Rooms: :func:`avgen.data.rooms.spec.sample_room` (hybrid image-source + ray tracing,
pyroomacoustics) from seeds ``--room-seed + i``, disjoint from the seeds used to calibrate the
blind T60 initialisation (5000-5015). Speech: test-split utterances of the data kit (2-4 s).
Heavy: run it as

    flock /tmp/avgen-heavy.lock python benchmarks/dereverb_quality.py --kit /work/kits/full \
        --clips 12 [--steps 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from avgen.audio import load_audio
from avgen.baselines.wpe import wpe_dereverberate
from avgen.data.datasets import kit_utterances
from avgen.data.rooms.acoustics import reverberate, simulate_room
from avgen.data.rooms.spec import sample_room
from avgen.metrics import estoi, pesq_wb, rt60_error, si_sdr
from avgen.pipelines.diffusion import dereverberate
from avgen.seeding import numpy_generator

from _bench import markdown_header, markdown_row


def scores(clean: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    return {
        "si_sdr": float(si_sdr(clean, estimate)),
        "pesq": float(pesq_wb(clean, estimate)),
        "estoi": float(estoi(clean, estimate)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=Path("/work/kits/full"))
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--zeta", type=float, default=None, help="DPS step (default: the pipeline's)"
    )
    parser.add_argument(
        "--estimate-t60",
        action="store_true",
        help="also update the T60s in the M-step (default: gains only)",
    )
    parser.add_argument("--room-seed", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write per-clip results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    records = [r for r in kit_utterances(args.kit, "test") if 2.0 <= r.duration <= 4.0]
    rng = numpy_generator(args.seed)
    chosen = [
        records[i]
        for i in rng.choice(len(records), size=min(args.clips, len(records)), replace=False)
    ]
    options = {"steps": args.steps, "estimate_t60": args.estimate_t60}
    if args.zeta is not None:
        options["zeta"] = args.zeta
    rows = []
    print(
        f"{len(chosen)} clips of {args.kit} (test split), rooms {args.room_seed}.., "
        f"dereverberate {options}, {args.threads} thread(s)"
    )
    for i, record in enumerate(chosen):
        clean = load_audio(args.kit / record.wav)
        room = simulate_room(sample_room(args.room_seed + i))
        reverberant = torch.as_tensor(reverberate(clean.numpy(), room.rir))
        wpe = wpe_dereverberate(reverberant.numpy())
        t0 = time.perf_counter()
        result = dereverberate(reverberant, seed=args.seed, progress=False, **options)
        seconds = time.perf_counter() - t0
        c = clean.numpy()
        true_t60 = room.acoustics.rt60
        est_t60 = result.info["t60_broadband"]
        band_err = rt60_error(
            {k: result.extras["t60_per_band"][k] for k in room.acoustics.rt60_bands},
            room.acoustics.rt60_bands,
        ).relative
        row = {
            "id": record.id,
            "duration": record.duration,
            "room_seed": args.room_seed + i,
            "true_t60": true_t60,
            "drr_db": room.acoustics.drr_db,
            "reverberant": scores(c, reverberant.numpy()),
            "wpe": scores(c, wpe),
            "dereverberate": scores(c, result.estimate.numpy()),
            "est_t60": est_t60,
            "t60_rel_error": (
                rt60_error(est_t60, true_t60).relative if math.isfinite(est_t60) else float("nan")
            ),
            "band_t60_rel_error": float(np.mean(band_err)),
            "seconds": seconds,
            "real_time_factor": result.info["real_time_factor"],
        }
        rows.append(row)
        print(
            f"  {i:2d} {record.id[:38]:38s} T60 {true_t60:.2f} -> {est_t60:.2f}  ESTOI "
            f"{row['reverberant']['estoi']:.3f} / wpe {row['wpe']['estoi']:.3f} / "
            f"ours {row['dereverberate']['estoi']:.3f}  ({seconds:.0f} s)",
            flush=True,
        )

    def mean(fn) -> float:
        values = [fn(r) for r in rows if math.isfinite(fn(r))]
        return statistics.fmean(values) if values else float("nan")

    print()
    print(
        markdown_header(
            "method",
            "SI-SDR (dB)",
            "PESQ-WB",
            "ESTOI",
            "broadband T60 rel. error",
            "band T60 rel. error",
        )
    )
    for name in ("reverberant", "wpe", "dereverberate"):
        t60 = f"{mean(lambda r: r['t60_rel_error']):.3f}" if name == "dereverberate" else ""
        band = f"{mean(lambda r: r['band_t60_rel_error']):.3f}" if name == "dereverberate" else ""
        print(
            markdown_row(
                name,
                f"{mean(lambda r, n=name: r[n]['si_sdr']):.2f}",
                f"{mean(lambda r, n=name: r[n]['pesq']):.3f}",
                f"{mean(lambda r, n=name: r[n]['estoi']):.3f}",
                t60,
                band,
            )
        )
    better = sum(r["dereverberate"]["estoi"] > r["reverberant"]["estoi"] for r in rows)
    within = sum(r["t60_rel_error"] <= 0.2 for r in rows)
    print(
        f"\nESTOI better than the input on {better}/{len(rows)} clips; broadband T60 within 20% "
        f"on {within}/{len(rows)}; mean true T60 {mean(lambda r: r['true_t60']):.2f} s; "
        f"median real-time factor {statistics.median(r['real_time_factor'] for r in rows):.1f}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
