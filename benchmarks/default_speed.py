"""Real-time factor of the audio-only default against the papers' schedule, in one process.

The 9 held-out real mixtures of the speed claims in ``docs/enhancement.md`` (3 Asterisk
utterances no kit plans x the ``city``, ``night`` and ``tv`` recordings at 0 dB): each mixture
is enhanced with ``EMSchedule()`` (today MH 20 steps of which 10 burn-in) and with the papers'
``EMSchedule(n_steps=40, burn_in=30)``, interleaved, after one untimed warm-up run, seed 0, on
``--threads`` torch threads. Prints, per schedule, the total wall time over the total audio
(RTF), the median per mixture, and the ratio to the papers' measured in the same process.

    python benchmarks/default_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _realspeech import REAL_AMBIENCE, mixtures, utterances

from avgen.models import load_model
from avgen.pipelines.enhance_file import AUDIO_ONLY_DEFAULT
from avgen.pipelines.vae_nmf import EMSchedule, enhance

from _bench import markdown_header, markdown_row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mixtures", type=int, default=3, help="utterances per noise")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(AUDIO_ONLY_DEFAULT)
    schedules = {"default": EMSchedule(), "papers' 40/30": EMSchedule(n_steps=40, burn_in=30)}
    items = mixtures(utterances(args.mixtures, seed=args.seed), REAL_AMBIENCE, (0.0,))
    noisy = [torch.from_numpy(m.noisy) for m in items]
    enhance(noisy[0], model, schedule=schedules["default"], seed=args.seed)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in schedules}
    for x in noisy:
        for name, schedule in schedules.items():
            started = time.perf_counter()
            enhance(x, model, schedule=schedule, seed=args.seed)
            seconds[name].append(time.perf_counter() - started)
    audio = [x.numel() / 16_000 for x in noisy]
    print(f"{len(noisy)} mixtures, {sum(audio):.1f} s of audio, {args.threads} thread(s)\n")
    print(markdown_header("schedule", "RTF (total)", "RTF (median)", "time / papers'",
                          align="lrrr"))  # fmt: skip
    papers = sum(seconds["papers' 40/30"])
    for name, spent in seconds.items():
        rtfs = [s / a for s, a in zip(spent, audio)]
        total, median = sum(spent) / sum(audio), statistics.median(rtfs)
        print(markdown_row(name, f"{total:.2f}", f"{median:.2f}", f"{sum(spent) / papers:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
