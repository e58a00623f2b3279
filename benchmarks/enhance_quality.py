"""Enhancement quality on a kit's unseen-noise test set: ``avgen eval`` plus the claims it checks.

Runs ``avgen eval`` (noisy input, Wiener baseline with minimum statistics, the reference
enhancers from other projects -- RNNoise, DeepFilterNet3, noisereduce's spectral gating, extra
``avgen[references]``, each skipped with a one-line note when absent -- and the VAE priors;
PESQ-WB, ESTOI, SI-SDR, mean ± 95 % CI per noise type and SNR) on the test mixtures whose noise
types were never seen in training and whose speakers are not in the training split, prints the
table, then a summary of the comparisons the enhancement issue asks about:

* at -5 and 0 dB, pooled over unseen noise types and on babble: MIN-VAE against A-VAE and AV-VAE
  in mean SI-SDR and PESQ-WB (difference of means with a 95 % CI from the paired per-item
  differences);
* every VAE prior against the noisy input in SI-SDR at every SNR <= 5 dB on non-speech noise
  (noise records with ``speech_like = false``);
* MIN-VAE against each reference enhancer that ran, in SI-SDR and PESQ-WB, pooled over unseen
  noise types at each SNR.

    flock /tmp/avgen-heavy.lock python benchmarks/enhance_quality.py --data /work/kits/full \
        [--models a-vae,av-vae,min-vae] [--references all|none|LIST] [--limit N]
        [--em-iters N] [--out DIR]

``--limit`` keeps N mixtures per noise type and SNR and ``--em-iters`` shortens the schedule when
compute is short; both are stated in the output.

``enhance_quality.py realspeech [options]`` runs the real-speech benchmark instead (held-out real
speech with real ambience and unusual noises, the audio-only default beside the reference
enhancers): ``realspeech_quality.py``, whose options it takes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from avgen.cli import main as avgen_main
from avgen.data.kit.records import NoiseRecord, read_jsonl
from avgen.evaluation import mean_ci

from _bench import markdown_header, markdown_row


def paired(items: list[dict], a: str, b: str, metric: str, keep) -> tuple[float, float, int]:
    """Mean of ``metric(a) - metric(b)`` over the mixtures that ``keep`` selects, 95 % CI."""
    by_mixture: dict[str, dict[str, float]] = defaultdict(dict)
    for it in items:
        if keep(it):
            by_mixture[it["mixture_id"]][it["method"]] = it[metric]
    diffs = [v[a] - v[b] for v in by_mixture.values() if a in v and b in v]
    mean, half = mean_ci(diffs)
    return mean, half, len(diffs)


def summary(data: dict, speech_like: set[str], min_vae: str, others: list[str]) -> str:
    items = data["items"]
    methods = data["settings"]["methods"]
    references = list(data["settings"].get("references", {}))
    lines = ["", "## Claims", ""]
    snrs = sorted({it["snr_db"] for it in items})
    lines.append(
        markdown_header(
            "comparison", "subset", "SNR", "metric", "mean difference ± 95% CI", "n", align="llrlrr"
        )
    )
    if min_vae in methods:
        for other in [o for o in others if o in methods]:
            for subset, keep_type in (
                ("all unseen", lambda t: True),
                ("babble", lambda t: t == "babble"),
            ):
                for snr in [s for s in snrs if s <= 0]:
                    for metric in ("si_sdr", "pesq_wb"):
                        mean, half, n = paired(
                            items,
                            min_vae,
                            other,
                            metric,
                            lambda it, s=snr, k=keep_type: (
                                it["snr_db"] == s and k(it["noise_type"])
                            ),
                        )
                        if n:
                            lines.append(
                                markdown_row(
                                    f"{min_vae} - {other}",
                                    subset,
                                    f"{snr:g}",
                                    metric,
                                    f"{mean:+.3f} ± {half:.3f}",
                                    n,
                                )
                            )
    vaes = [m for m in methods if m not in ("noisy", "wiener", *references)]
    for method in vaes:
        for snr in [s for s in snrs if s <= 5]:
            mean, half, n = paired(
                items,
                method,
                "noisy",
                "si_sdr",
                lambda it, s=snr: it["snr_db"] == s and it["noise_type"] not in speech_like,
            )
            if n:
                lines.append(
                    markdown_row(
                        f"{method} - noisy",
                        "non-speech noise",
                        f"{snr:g}",
                        "si_sdr",
                        f"{mean:+.3f} ± {half:.3f}",
                        n,
                    )
                )
    if min_vae in methods:
        for ref in references:
            for snr in snrs:
                for metric in ("si_sdr", "pesq_wb"):
                    mean, half, n = paired(
                        items, min_vae, ref, metric, lambda it, s=snr: it["snr_db"] == s
                    )
                    if n:
                        lines.append(
                            markdown_row(
                                f"{min_vae} - {ref}",
                                "all unseen",
                                f"{snr:g}",
                                metric,
                                f"{mean:+.3f} ± {half:.3f}",
                                n,
                            )
                        )
    skipped = data["settings"].get("references_skipped") or []
    lines += [""] + [f"note: {note}" for note in skipped]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["realspeech"]:
        from realspeech_quality import main as realspeech_main

        return realspeech_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("/work/kits/full"))
    p.add_argument("--models", default="a-vae,av-vae,min-vae")
    p.add_argument("--snr", default="-5,0,5")
    p.add_argument(
        "--references",
        default="all",
        help="reference enhancers beside the models: all (default), none, or a list",
    )
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--em-iters", type=int, default=None)
    p.add_argument("--scheme", default="mcem-mh")
    p.add_argument("--out", type=Path, default=Path("benchmark-output/enhance_quality"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    argv_eval = [
        "eval",
        "--data",
        str(args.data),
        "--models",
        args.models,
        "--noise",
        "unseen",
        f"--snr={args.snr}",
        "--references",
        args.references,
        "--out",
        str(args.out),
        "--scheme",
        args.scheme,
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
        "--no-progress",
    ]
    if args.limit is not None:
        argv_eval += ["--limit", str(args.limit)]
    if args.em_iters is not None:
        argv_eval += ["--em-iters", str(args.em_iters)]
    code = avgen_main(argv_eval)
    if code:
        return code
    data = json.loads((args.out / "eval.json").read_text())
    noises = read_jsonl(args.data / "noise" / "noises.jsonl", NoiseRecord)
    speech_like = {n.type for n in noises if n.speech_like}
    labels = [m.split("=")[0] for m in args.models.split(",")]
    min_label = next((m for m in labels if "min" in m), "min-vae")
    others = [m for m in labels if m != min_label]
    text = summary(data, speech_like, min_label, others)
    print(text)
    (args.out / "claims.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
