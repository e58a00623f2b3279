"""``avgen demo``: enhance the bundled noisy audio-visual clip with the bundled MIN-VAE.

Writes ``enhanced.wav``, ``figure.png`` (noisy / enhanced / clean spectrograms, uncertainty map
with the visual weight, EM objective) and ``metrics.json`` into ``--out``, and prints a table of
PESQ-WB, ESTOI and SI-SDR for the noisy input, the Wiener baseline and the MIN-VAE. The demo runs
the papers' schedule (K = 10, 100 EM iterations, 40 MH steps of which 30 burn-in, proposal
variance 0.01, final MH run) unless ``--em-iters`` says otherwise; it says which it ran.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

from avgen.errors import DataError


def bundled_clip_dir() -> Path:
    return Path(str(resources.files("avgen") / "assets" / "samples" / "demo"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="enhance the bundled noisy audio-visual clip with the bundled "
        "MIN-VAE (wav, figure, metrics)",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    p.add_argument("--out", type=Path, default=Path("demo-output"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--model", default="min-vae", help="prior name or checkpoint (default: the bundled min-vae)"
    )
    p.add_argument(
        "--clip",
        type=Path,
        default=None,
        help="a clip folder (noisy.wav, clean.wav, lips.npy, clip.json); default: the bundled one",
    )
    p.add_argument(
        "--em-iters", type=int, default=None, help="EM iterations (default: the papers' 100)"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run)


def clip_summary(provenance: dict) -> dict:
    """``id``, ``noise_type``, ``noise_split``, ``snr_db`` of a ``clip.json`` (the records of
    ``scripts/make_sample_set.py``: ``mixture`` is the kit's MixtureRecord)."""
    mixture = provenance.get("mixture")
    if not isinstance(mixture, dict):
        mixture = {"id": mixture or "clip", **provenance}
    return {
        "id": mixture.get("id", "clip"),
        "noise_type": mixture.get("noise_type", "?"),
        "noise_split": mixture.get("noise_split", "?"),
        "snr_db": mixture.get("snr_db"),
    }


def read_clip(folder: Path):
    """``(noisy, clean, lips, fps, provenance)`` of a demo clip folder."""
    from avgen.audio import load_audio
    from avgen.video_align import read_video

    names = ("noisy.wav", "clean.wav", "lips.npy", "clip.json")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"{folder}: the demo clip lacks {', '.join(missing)}; write it with "
            "scripts/make_demo_clip.py --kit KIT"
        )
    provenance = json.loads((folder / "clip.json").read_text(encoding="utf-8"))
    fps = float(provenance.get("video_fps", 25.0))
    lips, fps = read_video(folder / "lips.npy", fps)
    return (
        load_audio(folder / "noisy.wav"),
        load_audio(folder / "clean.wav"),
        lips,
        fps,
        provenance,
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from avgen.audio import save_audio
    from avgen.baselines.wiener import wiener_enhance
    from avgen.files import write_json_atomic
    from avgen.metrics import evaluate
    from avgen.models import load_model
    from avgen.pipelines.vae_nmf import enhance
    from avgen.pipelines.vae_nmf.figure import render_figure
    from avgen.pipelines.vae_nmf.report import describe_result
    from avgen.pipelines.vae_nmf.schemes import EMSchedule
    from avgen.runtime import keep_freed_memory

    started = time.perf_counter()
    torch.set_num_threads(max(1, args.threads))
    keep_freed_memory()
    noisy, clean, lips, fps, provenance = read_clip(args.clip or bundled_clip_dir())
    model = load_model(args.model, device=args.device)
    schedule = EMSchedule().replace(n_iter=args.em_iters)
    result = enhance(
        noisy,
        model,
        lips=lips,
        fps=fps,
        schedule=schedule,
        seed=args.seed,
        device=args.device,
        progress=None if not args.no_progress else False,
    )
    rows = {
        "noisy": evaluate(clean, noisy),
        "wiener": evaluate(clean, wiener_enhance(noisy)),
        model.name: evaluate(clean, result.estimate),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    save_audio(args.out / "enhanced.wav", result.estimate)
    clip = clip_summary(provenance)
    render_figure(
        result,
        args.out / "figure.png",
        clean=clean,
        title=f"{clip['id']}: {model.name}, {result.info['scheme']}",
    )
    schedule_kind = "the papers' schedule" if schedule == EMSchedule() else "a shortened schedule"
    write_json_atomic(
        args.out / "metrics.json",
        {
            "clip": provenance,
            "metrics": rows,
            "run": result.info,
            "schedule_kind": schedule_kind,
            "history": result.history.as_dict(),
        },
    )
    print(
        describe_result(
            result,
            source=f"the clip {clip['id']} ({clip['noise_type']} noise, {clip['snr_db']:+g} dB)",
        )
    )
    print(f"schedule: {schedule_kind}")
    print()
    print(f"| {'':10} | PESQ-WB | ESTOI | SI-SDR (dB) |")
    print(f"|{'-' * 12}|--------:|------:|------------:|")
    for name, m in rows.items():
        print(f"| {name:10} | {m['pesq_wb']:7.2f} | {m['estoi']:5.3f} | {m['si_sdr']:11.2f} |")
    print()
    print(
        f"wrote {args.out / 'enhanced.wav'}, {args.out / 'figure.png'}, "
        f"{args.out / 'metrics.json'} in {time.perf_counter() - started:.1f} s"
    )
    return 0
