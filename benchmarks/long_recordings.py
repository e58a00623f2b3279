"""Peak memory and real-time factor of ``avgen enhance`` / ``avgen dereverb`` against duration.

Each row runs the command line (``avgen.cli.main``) in a fresh child process on a synthetic
recording of the given length -- the bundled noisy clips (``avgen/assets/samples/*/noisy.wav``)
one after the other, repeated -- and reports the child's peak resident memory (``ru_maxrss`` of
``getrusage(RUSAGE_SELF)``, read in the child after the run: the high-water mark of its RSS,
imports and model included) and its wall time, real-time factor = seconds / audio seconds.

Rows are ``PIPELINE:MINUTES:SCHEDULE``: ``vae`` (``avgen enhance --model a-vae``), ``diffusion``
(``avgen enhance --model diffusion-prior``) or ``dereverb``; ``default`` (``EMSchedule()``:
100 EM iterations of 20 MH steps, 10 burn-in -- the papers' 40/30 before 2026-12-05;
diffusion 30 reverse steps) or ``short`` (VAE: 1 EM
iteration of 11 steps with 1 burn-in -- the *same* R = 10 retained samples, NMF rank and
segment length as the default, hence the same arrays and the same peak memory, in ~1/180 of the
time; diffusion: 2 reverse steps, the same network on the same segments). Memory does not depend
on the number of iterations; time does, about linearly.

    PYTHONPATH=. nice -n 10 python benchmarks/long_recordings.py \\
        --rows vae:1:default,vae:1:short,vae:10:short,vae:60:short,dereverb:1:short
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import markdown_header, markdown_row

SAMPLES = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "samples"

SCHEDULES = {
    ("vae", "default"): [],
    ("vae", "short"): ["--em-iters", "1", "--steps", "11", "--burn-in", "1"],
    ("diffusion", "default"): [],
    ("diffusion", "short"): ["--steps", "2"],
    ("dereverb", "default"): [],
    ("dereverb", "short"): ["--steps", "2"],
}


def write_recording(path: Path, minutes: float) -> None:
    """The bundled noisy clips, repeated to ``minutes``, written block by block as 16-bit PCM."""
    import numpy as np
    import soundfile as sf

    clips = [sf.read(p, dtype="float32")[0] for p in sorted(SAMPLES.glob("*/noisy.wav"))]
    block = np.concatenate(clips)
    total = int(minutes * 60 * 16_000)
    with sf.SoundFile(path, "w", samplerate=16_000, channels=1, subtype="PCM_16") as f:
        written = 0
        while written < total:
            piece = block[: total - written]
            f.write(piece)
            written += piece.size


def command(pipeline: str, schedule: str, source: Path, out: Path) -> list[str]:
    flags = SCHEDULES[(pipeline, schedule)]
    if pipeline == "dereverb":
        return ["dereverb", str(source), "-o", str(out), "--no-progress", *flags]
    model = "a-vae" if pipeline == "vae" else "diffusion-prior"
    return ["enhance", str(source), "-o", str(out), "--model", model, "--no-progress", *flags]


def child(argv: list[str]) -> None:
    """Run the command line in this process; print its peak RSS and seconds as JSON."""
    from avgen.cli import main

    started = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"code": code, "seconds": seconds, "peak_mb": peak_mb}))


def run_row(row: str, folder: Path) -> list[object]:
    pipeline, minutes_text, schedule = row.split(":")
    minutes = float(minutes_text)
    source = folder / f"in-{minutes_text}.wav"
    if not source.exists():
        write_recording(source, minutes)
    argv = command(pipeline, schedule, source, folder / "out.wav")
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    segments = next(
        (line for line in done.stdout.splitlines() if "overlapping segments" in line), ""
    )
    n_segments = segments.split("in ", 1)[1].split(" ", 1)[0] if segments else "1 (whole)"
    return [
        pipeline,
        minutes_text,
        schedule,
        n_segments,
        f"{measured['seconds']:.0f}",
        f"{measured['seconds'] / (minutes * 60):.3f}",
        f"{measured['peak_mb']:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="vae:1:default,vae:1:short,vae:10:short,vae:60:short")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(json.loads(args.child))
        return
    print(markdown_header(
        "pipeline", "minutes", "schedule", "segments", "wall s", "RTF", "peak RSS MB",
        align="lllrrrr",
    ))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="avgen-long-") as tmp:
        for row in args.rows.split(","):
            print(markdown_row(*run_row(row, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
