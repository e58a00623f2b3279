"""Paired differences between two runs of ``realspeech_quality.py --json`` on the same mixtures.

Two runs with the same ``--mixtures``, ``--snr``, ``--noises`` and ``--seed`` hold the same
mixtures; this prints, per SNR, the mean ± 95 % Student-t half-width of ``B - A`` for SI-SDR and
ESTOI of one system (default: the library's default), how many mixtures B improves, and the
median ratio of the real-time factors (B over A, both measured in their own process: a ratio,
not a speed).

    python benchmarks/realspeech_quality.py ... --steps 40 --burn-in 30 --json a.json
    python benchmarks/realspeech_quality.py ... --steps 20 --burn-in 10 --json b.json
    python benchmarks/paired_runs.py a.json b.json
"""

from __future__ import annotations

import argparse
import json
import statistics

from avgen.evaluation import mean_ci

from _bench import markdown_header, markdown_row


def items(path: str, system: str) -> dict[str, dict]:
    """mixture id -> the scores of the first system whose name starts with ``system``."""
    with open(path) as f:
        run = json.load(f)
    return {r["mixture"]: r for r in run["items"] if r["system"].startswith(system)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--system", default="avgen", help="system name prefix")
    args = parser.parse_args(argv)
    a, b = items(args.a, args.system), items(args.b, args.system)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit(f"{args.a} and {args.b} share no mixture of system {args.system!r}")
    print(f"B - A: B = {args.b}, A = {args.a}, system {args.system!r}\n")
    print(markdown_header("SNR (dB)", "n", "SI-SDR (dB)", "ESTOI", "B better (SI-SDR)",
                          "RTF B / A (median)", align="lrrrrr"))  # fmt: skip
    for snr in sorted({a[k]["snr_db"] for k in shared}):
        keys = [k for k in shared if a[k]["snr_db"] == snr]
        cells = []
        for metric in ("si_sdr", "estoi"):
            mean, half = mean_ci([b[k][metric] - a[k][metric] for k in keys])
            cells.append(f"{mean:+.3f} ± {half:.3f}")
        better = sum(b[k]["si_sdr"] > a[k]["si_sdr"] for k in keys)
        ratio = statistics.median(b[k]["rtf"] / a[k]["rtf"] for k in keys)
        print(markdown_row(f"{snr:+g}", len(keys), *cells, f"{better} of {len(keys)}",
                           f"{ratio:.2f}"))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
