"""How long the speech of a data kit takes to produce, and how much audio it holds.

Produces the utterances of ``plan_utterances(size, seed)`` (all of them, or a stratified
sample of ``--per-group`` items per (split, engine, timing) group, extrapolated by the group's
size) and prints two tables: time and audio per group, and hours of audio per split and per
real/TTS.

    flock /tmp/avgen-heavy.lock python benchmarks/speech_kit.py --size small
    flock /tmp/avgen-heavy.lock python benchmarks/speech_kit.py --size full --per-group 12
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from avgen.data.speech.plan import plan_utterances
from avgen.data.speech.produce import produce


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=("tiny", "small", "full"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--per-group",
        type=int,
        default=0,
        help="produce only this many items per group and extrapolate (0: all)",
    )
    args = parser.parse_args()

    plans = plan_utterances(args.size, args.seed)
    groups: dict[tuple[str, str, bool], list] = collections.defaultdict(list)
    for p in plans:
        groups[(p.split, p.engine, p.real)].append(p)

    rows = []
    rng = np.random.default_rng(0)
    t_start = time.perf_counter()
    for key in sorted(groups):
        members = groups[key]
        sample = members
        if args.per_group and len(members) > args.per_group:
            sample = [
                members[i] for i in sorted(rng.choice(len(members), args.per_group, replace=False))
            ]
        seconds, audio, timings = 0.0, 0.0, collections.Counter()
        for plan in sample:
            t0 = time.perf_counter()
            result = produce(plan)
            seconds += time.perf_counter() - t0
            audio += result.fields["duration"]
            timings[result.fields["timing"]] += 1
        scale = len(members) / len(sample)
        rows.append(
            (
                key,
                len(members),
                len(sample),
                seconds * scale,
                audio * scale,
                seconds / len(sample),
                "+".join(sorted(timings)),
            )
        )
    measured = time.perf_counter() - t_start

    print(
        f"\nkit size {args.size}, seed {args.seed}: {len(plans)} utterances "
        f"({'all produced' if not args.per_group else f'<= {args.per_group} per group'})"
    )
    print(
        f"{'split':6} {'engine':9} {'real':5} {'n':>5} {'made':>5} {'time s':>8} "
        f"{'audio min':>9} {'s/utt':>6}  timing"
    )
    for (split, engine, real), n, made, secs, audio, per, timing in rows:
        print(
            f"{split:6} {engine:9} {real!s:5} {n:5d} {made:5d} {secs:8.1f} {audio / 60:9.1f} "
            f"{per:6.2f}  {timing}"
        )
    total_time = sum(r[3] for r in rows)
    print(
        f"{'total':6} {'':9} {'':5} {len(plans):5d} {'':5} {total_time:8.1f} "
        f"{sum(r[4] for r in rows) / 60:9.1f}"
    )
    print(
        f"(wall time of this run: {measured:.1f} s; 'time s' is "
        f"{'measured' if not args.per_group else 'extrapolated'}, one process)"
    )

    print(f"\n{'split':6} {'real h':>7} {'TTS h':>7} {'total h':>8} {'utterances':>10}")
    for split in ("train", "val", "test"):
        real = sum(r[4] for r in rows if r[0][0] == split and r[0][2]) / 3600
        synth = sum(r[4] for r in rows if r[0][0] == split and not r[0][2]) / 3600
        n = sum(r[1] for r in rows if r[0][0] == split)
        print(f"{split:6} {real:7.2f} {synth:7.2f} {real + synth:8.2f} {n:10d}")
    real = sum(r[4] for r in rows if r[0][2]) / 3600
    synth = sum(r[4] for r in rows if not r[0][2]) / 3600
    print(f"{'all':6} {real:7.2f} {synth:7.2f} {real + synth:8.2f} {len(plans):10d}")


if __name__ == "__main__":
    main()
