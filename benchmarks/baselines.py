"""Speed of the classical baselines (Wiener / log-MMSE, WPE), as real-time factors.

Median of several runs on 10 s of 16 kHz audio, with ratios against baselines timed in the same
process: the STFT analysis + synthesis alone (the floor any STFT-domain method pays), and
nara_wpe's batched numpy WPE (``wpe_v6``) when it is installed.

    flock /tmp/avgen-heavy.lock python benchmarks/baselines.py [--seconds 10] [--runs 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from avgen.audio import istft, stft
from avgen.baselines.wiener import WIENER_STFT, wiener_enhance
from avgen.baselines.wpe import WPE_STFT, wpe_dereverberate, wpe_stft

from _bench import median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = int(args.seconds * 16_000)
    x = (0.1 * rng.standard_normal(n)).astype(np.float32)
    x64 = torch.from_numpy(x.astype(np.float64))

    rows: list[tuple[str, float, str]] = []
    t_stft_w = median_time(lambda: istft(stft(x64, WIENER_STFT), WIENER_STFT, length=n), args.runs)
    rows.append(("STFT+iSTFT 512/256 (floor)", t_stft_w, "1.0"))
    for rule in ("wiener", "logmmse"):
        t = median_time(lambda rule=rule: wiener_enhance(x, rule=rule), args.runs)
        rows.append((f"wiener_enhance rule={rule}", t, f"{t / t_stft_w:.1f} x floor"))
    t_stft_p = median_time(lambda: istft(stft(x64, WPE_STFT), WPE_STFT, length=n), args.runs)
    rows.append(("STFT+iSTFT 1024/256 (floor)", t_stft_p, "1.0"))
    t_wpe = median_time(lambda: wpe_dereverberate(x), args.runs)
    rows.append(("wpe_dereverberate K=10 D=2 it=3", t_wpe, f"{t_wpe / t_stft_p:.1f} x floor"))
    spec = stft(x64, WPE_STFT)
    t_ours = median_time(lambda: wpe_stft(spec, taps=10, delay=3, iterations=3), args.runs)
    rows.append(("wpe_stft K=10 D=3 it=3 (torch)", t_ours, "1.0"))
    try:
        from nara_wpe.wpe import wpe_v6
    except ImportError:
        rows.append(("nara_wpe.wpe_v6 (not installed)", float("nan"), "-"))
    else:
        y = spec.numpy()[:, None, :]
        t_nara = median_time(lambda: wpe_v6(y, taps=10, delay=3, iterations=3), args.runs)
        rows.append(("nara_wpe.wpe_v6 K=10 D=3 it=3", t_nara, f"{t_nara / t_ours:.1f} x ours"))

    print(f"{args.seconds:g} s of 16 kHz audio, median of {args.runs} runs, 1 torch thread")
    print(f"{'method':40s} {'seconds':>9s} {'RTF':>8s}  ratio")
    for name, t, ratio in rows:
        print(f"{name:40s} {t:9.4f} {t / args.seconds:8.4f}  {ratio}")


if __name__ == "__main__":
    main()
