"""Train the ambient-robust blind RT60 estimator of the stylization metric (issue 14), evaluate
it on held-out rooms and ambience against the bundled (noise-free) estimator, and write the
weights and their card to ``avgen/assets/stylize/``.

Same architecture and trainer as the bundled estimator (:func:`fit_rt60_estimator`, AViTAR's
ResNet-18 on ``log1p |STFT|``, width 4); only the data differ. Each training clip is

.. math:: x = (s * h) + g\\,n, \\qquad g \\text{ such that }
          10\\log_{10}\\frac{\\overline{(s*h)^2}}{\\overline{(g n)^2}} = \\mathrm{SNR}
          \\sim U(0, 20)\\ \\mathrm{dB}

(20 % of clips keep ``g = 0``), ``s`` a training utterance of the room kit (its clean files of
``train-paired``, ``val`` and ``train-unpaired-clean``: the speakers' utterances of the test
splits are disjoint), ``h`` the response of a **seen** viewpoint of the kit (85 %) or an
open-air-like response (15 %: :func:`avgen.data.scenes.openair.draw_open_air`'s ground/facade
echoes plus an exponentially decaying diffuse tail of T60 ``U(0.05, 0.15)`` s at a DRR of
``U(5, 15)`` dB), ``n`` a random window of the *training segment* (first 70 %) of a noise of the
speech kit's noise bank, every type (seen and unseen: the estimator is an evaluator, not a
system under test). The label is the response's Schroeder T30 (broadband), the kit's own label.

Held out for evaluation: the kit's ``test-unseen`` items (12 rooms never seen, their own
reverberant files and labels) mixed with the *last 30 %* of each noise at 0, 10 and 20 dB SNR
(one noise per item, the same at every SNR), and clean; plus open-air-like clips of test
utterances (fresh seeds). Compared: the new estimator, the bundled one, and the bundled one on
Wiener-enhanced input (``rt60_error(..., denoise=True)``'s path).

    OMP_NUM_THREADS=1 python scripts/train_rt60_ambient.py \\
        --kit /work/data/roomkit --noise /work/data/speechkit-small/noise
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import scipy.stats
import torch

from avgen.audio import SAMPLE_RATE
from avgen.data.rooms.dataset import load_wav
from avgen.metrics import rt60_schroeder

ASSETS = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "stylize"
TRAIN_SPLITS = ("train-paired", "val", "train-unpaired-clean")
HELD_OUT_FRACTION = 0.3
SNRS = (0.0, 10.0, 20.0)
OPEN_AIR_KINDS = ("street", "market", "beach", "rain", "forest")


@dataclass(frozen=True)
class Noise:
    id: str
    type: str
    split: str  # the noise bank's seen / unseen type split
    train: np.ndarray
    test: np.ndarray


def read_noises(noise_dir: Path) -> list[Noise]:
    """Every noise of the bank, cut into a training head and a held-out tail."""
    out = []
    for line in (noise_dir / "noises.jsonl").read_text().splitlines():
        rec = json.loads(line)
        x = load_wav(noise_dir.parent / rec["wav"]).numpy().astype(np.float64)
        cut = round(x.size * (1 - HELD_OUT_FRACTION))
        out.append(Noise(rec["id"], rec["type"], rec["split"], x[:cut], x[cut:]))
    return out


def window(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``x`` from a random offset, tiled when ``x`` is shorter."""
    if x.size < n:
        x = np.tile(x, int(np.ceil(n / x.size)) + 1)
    start = int(rng.integers(0, x.size - n + 1))
    return x[start : start + n]


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float | None) -> np.ndarray:
    """``speech + g noise`` at ``snr_db`` (mean powers over the clip); ``None``: clean."""
    if snr_db is None:
        return speech.astype(np.float32)
    g = np.sqrt(np.mean(speech**2) / max(np.mean(noise**2), 1e-20) / 10 ** (snr_db / 10))
    return (speech + g * noise).astype(np.float32)


def open_air_like(rng: np.random.Generator, seed: int) -> tuple[np.ndarray, float]:
    """An open-air response with a short diffuse tail (module docstring) and its T30."""
    from avgen.data.scenes.openair import draw_open_air

    h, _ = draw_open_air(OPEN_AIR_KINDS[int(rng.integers(len(OPEN_AIR_KINDS)))], seed)
    t60, drr = rng.uniform(0.05, 0.15), rng.uniform(5.0, 15.0)
    n = round(0.4 * SAMPLE_RATE)
    tail = rng.standard_normal(n) * np.exp(-np.log(1e3) * np.arange(n) / SAMPLE_RATE / t60)
    tail *= np.sqrt(np.sum(h**2) / np.sum(tail**2) / 10 ** (drr / 10))
    full = np.zeros(max(n + 1, h.size))
    full[: h.size] += h
    full[1 : n + 1] += tail
    return full, float(rt60_schroeder(full, SAMPLE_RATE))


def kit_records(kit: Path, split: str) -> list[dict]:
    return [json.loads(s) for s in (kit / "items" / f"{split}.jsonl").read_text().splitlines()]


def utterances(kit: Path, splits: tuple[str, ...]) -> list[np.ndarray]:
    """The distinct clean utterances of ``splits`` (speech samples only, tail cut)."""
    seen: dict[str, np.ndarray] = {}
    for split in splits:
        for rec in kit_records(kit, split):
            if rec["utterance"] not in seen and rec.get("clean"):
                x = load_wav(kit / rec["clean"]).numpy().astype(np.float64)
                seen[rec["utterance"]] = x[: rec["speech_samples"]]
    return [seen[k] for k in sorted(seen)]


def build_training_set(
    kit: Path, noises: list[Noise], n_clips: int, seed: int, max_seconds: float
) -> tuple[list[torch.Tensor], np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    speech = utterances(kit, TRAIN_SPLITS)
    views = [json.loads(s) for s in (kit / "viewpoints.jsonl").read_text().splitlines()]
    views = [v for v in views if v["seen"]]
    rirs = [np.load(kit / v["rir"]).astype(np.float64) for v in views]
    waves, labels, n_open, n_clean = [], [], 0, 0
    max_n = round(max_seconds * SAMPLE_RATE)
    for i in range(n_clips):
        s = speech[int(rng.integers(len(speech)))]
        if rng.random() < 0.15:
            h, label = open_air_like(rng, seed * 100_003 + i)
            n_open += 1
        else:
            j = int(rng.integers(len(views)))
            h, label = rirs[j], float(views[j]["rt60"])
        y = scipy.signal.fftconvolve(s, h)
        if y.size > max_n:
            start = int(rng.integers(0, y.size - max_n + 1))
            y = y[start : start + max_n]
        if rng.random() < 0.2:
            snr = None
            n_clean += 1
        else:
            snr = float(rng.uniform(0.0, 20.0))
        noise = noises[int(rng.integers(len(noises)))]
        waves.append(torch.from_numpy(mix(y, window(noise.train, y.size, rng), snr)))
        labels.append(label)
    info = {
        "clips": n_clips,
        "utterances": len(speech),
        "seen_viewpoints": len(views),
        "open_air_clips": n_open,
        "clean_clips": n_clean,
    }
    return waves, np.array(labels, np.float32), info


def build_eval_sets(kit: Path, noises: list[Noise], seed: int) -> dict[str, dict]:
    """Condition name -> {"waves", "rt60", "noise_split"} on held-out rooms and noise tails."""
    rng = np.random.default_rng(seed + 1)
    recs = kit_records(kit, "test-unseen")
    rev = [load_wav(kit / r["reverberant"]).numpy().astype(np.float64) for r in recs]
    rt60 = np.array([r["rt60"] for r in recs])
    order = rng.permutation(len(noises))
    picked = [noises[order[i % len(noises)]] for i in range(len(recs))]
    segs = [window(nz.test, y.size, rng) for nz, y in zip(picked, rev, strict=True)]
    splits = np.array([nz.split for nz in picked])
    sets = {"clean": {"waves": [mix(y, y, None) for y in rev], "rt60": rt60, "noise_split": splits}}
    for snr in sorted(SNRS, reverse=True):
        sets[f"{snr:.0f} dB"] = {
            "waves": [mix(y, n, snr) for y, n in zip(rev, segs, strict=True)],
            "rt60": rt60,
            "noise_split": splits,
        }
    test_speech = utterances(kit, ("test-unseen",))
    oa_waves, oa_clean, oa_rt60 = [], [], []
    for i, s in enumerate(test_speech[:24]):
        h, label = open_air_like(rng, 900_001 + i)
        y = scipy.signal.fftconvolve(s, h)
        nz = noises[int(rng.integers(len(noises)))]
        oa_clean.append(mix(y, y, None))
        oa_waves.append(mix(y, window(nz.test, y.size, rng), 10.0))
        oa_rt60.append(label)
    oa = np.array(oa_rt60)
    sets["open air, clean"] = {"waves": oa_clean, "rt60": oa, "noise_split": None}
    sets["open air, 10 dB"] = {"waves": oa_waves, "rt60": oa, "noise_split": None}
    return sets


def evaluate(estimators: dict, sets: dict[str, dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Per condition and estimator: MAE (s), Spearman rank correlation with the labels, and
    (noisy room conditions) the MAE on clips of noise types unseen by the bank's classifier."""
    from avgen.baselines.wiener import wiener_enhance

    out: dict[str, dict[str, dict[str, float]]] = {}
    for cond, data in sets.items():
        out[cond] = {}
        enhanced = None
        for name, (est, denoise) in estimators.items():
            if denoise and enhanced is None:
                enhanced = [wiener_enhance(torch.from_numpy(w)) for w in data["waves"]]
            waves = enhanced if denoise else data["waves"]
            hat = np.array([est.estimate(w) for w in waves])
            err = np.abs(hat - data["rt60"])
            row = {
                "mae": float(err.mean()),
                "sem": float(err.std(ddof=1) / np.sqrt(err.size)),
                "spearman": float(scipy.stats.spearmanr(hat, data["rt60"]).statistic),
            }
            if data["noise_split"] is not None and cond != "clean":
                row["mae_unseen_types"] = float(err[data["noise_split"] == "unseen"].mean())
            out[cond][name] = row
    return out


def card(results: dict, info: dict, args: argparse.Namespace, seconds: float) -> str:
    names = list(next(iter(results.values())))
    lines = [
        "# Ambient-robust blind RT60 estimator (stylization metric, issue 14)",
        "",
        "The RT60 estimator of `avgen.evaluators.stylization.rt60_error` when bundled "
        "(`avgen.evaluators.reverberation.bundled_ambient_rt60_estimator`). Same architecture "
        "and trainer as the estimator bundled beside MVSD (`avgen/assets/mvsd/rt60-estimator.pt`:"
        " AViTAR's ResNet-18, one-channel stem, on log1p |STFT| of the peak-normalised clip), "
        "trained on reverberant speech **with ambience mixed in**, so the ambience is not read "
        "as reverberation. Reproduce with `scripts/train_rt60_ambient.py` (seeded; "
        "same seed, same weights on the same machine).",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `Rt60EstimatorConfig(width={args.width}, frames=200)`, broadband only |",
        f"| training | {args.steps} steps, batch 16 x 2 s crops, AdamW lr 2e-3, seed {args.seed}; "
        f"{seconds / 60:.1f} min on one thread of a shared 2-core x86_64 machine "
        f"({platform.python_implementation()} {platform.python_version()}, torch "
        f"{torch.__version__}) |",
        f"| speech | {info['utterances']} clean utterances of the room kit's train-paired, val "
        "and train-unpaired-clean splits (disjoint from the test splits' utterances) |",
        f"| responses | {info['seen_viewpoints']} seen viewpoints' RIRs of the room kit "
        "(`avgen data rooms --rooms 48 --viewpoints 3 --seed 0`; 12 unseen rooms held out), "
        f"85 %; open-air-like responses ({info['open_air_clips']} clips: two-ray ground echo "
        "(+ facade echo) of `draw_open_air` plus a diffuse tail of T60 U(0.05, 0.15) s at DRR "
        "U(5, 15) dB), 15 % |",
        "| label | Schroeder T30 of the response, broadband (the kit's `rt60`) |",
        f"| ambience | the speech kit's noise bank (`{args.noise}`, 75 noises, **seen and unseen "
        "types alike**: this is an evaluator, not a system under test), first 70 % of each "
        f"noise; SNR U(0, 20) dB over the clip, {info['clean_clips']} of {info['clips']} clips "
        "clean |",
        f"| clips | {info['clips']} clips of at most {args.max_seconds:g} s (random window of "
        "speech * response) |",
        "",
        "## Held-out MAE",
        "",
        "Test-unseen items of the kit (36 clips, 12 rooms never seen, their own reverberant "
        "files; T30 0.27-3.7 s) mixed with the **last 30 %** of a noise (one per item, the same "
        "at every SNR; 9 of 36 items got a noise of a bank-unseen type) at the SNR shown; open "
        "air: 24 test utterances through fresh open-air-like responses. MAE in seconds "
        "(± standard error), Spearman rank correlation with the labels in brackets.",
        "",
        "| condition | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for cond, row in results.items():
        cells = [
            f"{row[n]['mae']:.3f} ± {row[n]['sem']:.3f} ({row[n]['spearman']:.2f})" for n in names
        ]
        lines.append(f"| {cond} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Command: `OMP_NUM_THREADS=1 python scripts/train_rt60_ambient.py --kit "
        f"{args.kit} --noise {args.noise}` (seed {args.seed}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kit", type=Path, default=Path("/work/data/roomkit"))
    p.add_argument("--noise", type=Path, default=Path("/work/data/speechkit-small/noise"))
    p.add_argument("--out", type=Path, default=ASSETS / "rt60-estimator-ambient.pt")
    p.add_argument("--clips", type=int, default=2000)
    p.add_argument("--max-seconds", type=float, default=4.0)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-only", action="store_true", help="evaluate --out, do not train")
    args = p.parse_args()
    torch.set_num_threads(1)

    from avgen.models.scene.regression import RegressionTrainConfig
    from avgen.models.scene.rt60_estimator import (
        Rt60EstimatorConfig,
        fit_rt60_estimator,
        load_rt60_estimator,
        save_rt60_estimator,
    )
    from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

    noises = read_noises(args.noise)
    waves, labels, info = build_training_set(
        args.kit, noises, args.clips, args.seed, args.max_seconds
    )
    seconds = float("nan")
    if not args.eval_only:
        t0 = time.perf_counter()
        fit = fit_rt60_estimator(
            waves,
            labels,
            Rt60EstimatorConfig(width=args.width),
            seed=args.seed,
            progress=False,
            train=RegressionTrainConfig(steps=args.steps),
        )
        seconds = time.perf_counter() - t0
        print(f"trained in {seconds:.0f} s; last loss {fit.history[-1]}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_rt60_estimator(
            args.out,
            fit.model,
            extra={"data": info, "steps": args.steps, "seed": args.seed, "seconds": seconds},
        )
    del waves
    model = load_rt60_estimator(args.out)
    old = bundled_rt60_estimator()
    estimators = {
        "ambient (new)": (model, False),
        "bundled": (old, False),
        "bundled, Wiener-enhanced": (old, True),
    }
    results = evaluate(estimators, build_eval_sets(args.kit, noises, args.seed))
    print(json.dumps(results, indent=1))
    if not args.eval_only:
        args.out.with_suffix(".md").write_text(card(results, info, args, seconds))


if __name__ == "__main__":
    main()
