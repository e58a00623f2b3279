"""Speed of the noise bank and of mixing (median of several runs, one table).

    PYTHONPATH=. python benchmarks/noise_bank.py [--repeats 3]

Rows: decoding + resampling every ufoai recording the bank uses; one 30 s clip of each
procedural type (babble from 6 synthetic talkers); the P.56 active level of 10 s of speech;
one mixture at an SNR. The ratio column is each row's time over the 30 s white-noise clip,
measured in the same process.
"""

from __future__ import annotations

import argparse

import numpy as np

from avgen.data.kit.mixing import active_speech_level, mix_at_snr
from avgen.data.noise.bank import procedural_clip
from avgen.data.noise.catalogue import NOISE_TYPES
from avgen.data.noise.real import read_ufoai

from _bench import median_time

FS = 16_000


def fake_talkers(n: int = 6, seconds: float = 8.0) -> list[np.ndarray]:
    t = np.arange(int(seconds * FS)) / FS
    out = []
    for k in range(n):
        phase = 2 * np.pi * np.cumsum(100 + 15 * k + 20 * np.sin(2 * np.pi * 0.5 * t)) / FS
        voice = sum(np.sin(h * phase) / h for h in range(1, 15))
        out.append(
            (0.1 * voice * np.clip(np.sin(2 * np.pi * (3 + 0.3 * k) * t), 0, None)).astype(
                np.float32
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    talkers = fake_talkers()
    rows: list[tuple[str, float]] = []
    stems = [s for t in NOISE_TYPES for s in t.recordings]
    rows.append(
        (
            f"ufoai: decode {len(stems)} recordings",
            median_time(lambda: read_ufoai(stems), args.repeats, warmup=0),
        )
    )
    for kind in NOISE_TYPES:
        if kind.category == "procedural":
            rows.append(
                (
                    f"procedural {kind.name}: 30 s clip",
                    median_time(
                        lambda k=kind.name: procedural_clip(
                            k, 0, seconds=30.0, seed=0, talkers=talkers
                        ),
                        args.repeats,
                        warmup=0,
                    ),
                )
            )
    speech = np.concatenate(talkers)[: 10 * FS]
    noise = procedural_clip("pink", 0, seconds=30.0, seed=0).waveform
    rows.append(
        (
            "P.56 active level of 10 s",
            median_time(lambda: active_speech_level(speech), args.repeats, warmup=0),
        )
    )
    rows.append(
        (
            "mix_at_snr, 10 s speech",
            median_time(lambda: mix_at_snr(speech, noise, 0.0, rng=0), args.repeats, warmup=0),
        )
    )
    base = dict(rows)["procedural white: 30 s clip"]
    print(f"{'operation':40s} {'median s':>10s} {'x white':>9s}")
    for name, sec in rows:
        print(f"{name:40s} {sec:10.3f} {sec / base:9.1f}")


if __name__ == "__main__":
    main()
