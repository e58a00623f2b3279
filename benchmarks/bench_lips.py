"""Speed of the lip renderer: frames per second by stage and size, and times real time.

    PYTHONPATH=. python benchmarks/bench_lips.py [--seconds 20] [--repeats 5]

A random phone sequence (seeded; durations 50-250 ms) stands in for an utterance. Each row is
the median of ``--repeats`` runs; ``ratio`` is the row's time relative to the baseline row
(the default 64x64 render) measured in the same process; ``x real time`` compares frames per
second with the 25 fps video being made. Rendering runs on one intra-op thread by design
(see avgen.data.lips.render); parallelise over utterances.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from avgen.data.lips.degrade import LipDegradations, degrade_lips
from avgen.data.lips.frames import lips_to_stft_frames, video_frame_times
from avgen.data.lips.shape import articulator_tracks
from avgen.data.lips.video import render_lips
from avgen.data.speech.phones import ARPABET, SILENCE, PhoneSegment

from _bench import median_time


def random_phones(seconds: float, seed: int = 0) -> list[PhoneSegment]:
    rng = np.random.default_rng(seed)
    out, t = [PhoneSegment(SILENCE, 0.0, 0.3)], 0.3
    while t < seconds - 0.6:
        d = float(rng.uniform(0.05, 0.25))
        out.append(PhoneSegment(str(rng.choice(ARPABET)), t, t + d))
        t += d
    out.append(PhoneSegment(SILENCE, t, seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    phones = random_phones(args.seconds)
    n_frames = round(args.seconds * 25)
    times = video_frame_times(n_frames, 25.0)
    frames64 = render_lips(phones, args.seconds)
    n_stft = 1 + int(args.seconds * 16000) // 256
    rows = [
        ("render 64x64 (baseline)", lambda: render_lips(phones, args.seconds)),
        ("render 32x32", lambda: render_lips(phones, args.seconds, size=32)),
        ("render 128x128", lambda: render_lips(phones, args.seconds, size=128)),
        (
            "render 64x64, still camera",
            lambda: render_lips(phones, args.seconds, motion=0, lighting=0),
        ),
        ("tracks only (dominance blend)", lambda: articulator_tracks(phones, times)),
        (
            "degrade 64x64 'moderate'",
            lambda: degrade_lips(frames64, LipDegradations.preset("moderate"), seed=0),
        ),
        ("to STFT frames, 32x32", lambda: lips_to_stft_frames(frames64, 25.0, n_stft, size=32)),
    ]
    results = [(name, median_time(fn, args.repeats)) for name, fn in rows]
    base = results[0][1]
    print(
        f"lip rendering: {args.seconds:g} s utterance, {n_frames} frames at 25 fps, "
        f"{len(phones)} phones, median of {args.repeats}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads outside the renderer"
    )
    print(f"{'stage':<32}{'time (ms)':>11}{'frames/s':>11}{'x real time':>13}{'ratio':>8}")
    for name, t in results:
        fps = n_frames / t
        print(f"{name:<32}{1e3 * t:>11.1f}{fps:>11.0f}{fps / 25.0:>13.1f}{t / base:>8.2f}")


if __name__ == "__main__":
    main()
