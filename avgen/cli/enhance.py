"""``avgen enhance``: unsupervised (audio-visual) speech enhancement of one recording.

Everything is checked and computed before anything is written; the outputs (enhanced wav,
optional figure, optional JSON report) are then written atomically, so a failed run leaves no
partial file.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from avgen.errors import ConfigError

DIFFUSION_MODEL = "diffusion-prior"


def add_schedule_arguments(p: argparse.ArgumentParser) -> None:
    """The schedule's options (defaults: the papers' schedule, :class:`EMSchedule`)."""
    g = p.add_argument_group(
        "schedule (defaults: the papers' K=10, 100 iterations, 40 MH steps "
        "of which 30 burn-in, proposal variance 0.01, final MH run)"
    )
    g.add_argument("--rank", type=int, default=None, help="NMF rank K")
    g.add_argument("--em-iters", type=int, default=None, help="EM iterations")
    g.add_argument("--steps", type=int, default=None, help="sampler steps per E-step")
    g.add_argument("--burn-in", type=int, default=None, help="of which burn-in")
    g.add_argument("--proposal-variance", type=float, default=None, help="MH proposal variance")
    g.add_argument(
        "--final-steps",
        type=int,
        default=None,
        help="steps of the final run for the estimate (default: --steps)",
    )
    g.add_argument(
        "--final-burn-in",
        type=int,
        default=None,
        help="burn-in of the final run (default: --burn-in)",
    )
    g.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop when the objective's relative change is below this",
    )


def schedule_from_args(args: argparse.Namespace, base=None):
    from avgen.pipelines.vae_nmf.schemes import EMSchedule

    base = base or EMSchedule()
    return base.replace(
        rank=args.rank,
        n_iter=args.em_iters,
        n_steps=args.steps,
        burn_in=args.burn_in,
        proposal_variance=args.proposal_variance,
        final_steps=args.final_steps,
        final_burn_in=args.final_burn_in,
        tol=args.tol,
    )


def register(sub: argparse._SubParsersAction) -> None:
    from avgen.models.vae.registry import all_inits
    from avgen.pipelines.vae_nmf.schemes import SCHEMES

    p = sub.add_parser(
        "enhance",
        help="enhance noisy speech with a VAE speech prior and NMF "
        "noise (unsupervised; lips help the audio-visual priors)",
        description="Unsupervised speech enhancement: a trained speech prior "
        "(a-vae, v-vae, av-vae, av-cvae, min-vae, or a checkpoint) and an NMF "
        "noise model fitted to the input alone by Monte-Carlo EM. Writes the "
        "posterior-mean speech; --plot adds spectrograms and the uncertainty "
        "map, --report the settings, EM history and timings as JSON.",
    )
    p.add_argument("noisy", type=Path, help="noisy speech, mono 16 kHz (see --resample)")
    p.add_argument("-o", "--out", type=Path, required=True, help="enhanced wav to write")
    p.add_argument(
        "--video",
        type=Path,
        default=None,
        help="the speaker's lips: .npy uint8 (frames, H, W) or a video (.mp4 ...)",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frame rate of a .npy video (default 25; video files carry their own)",
    )
    p.add_argument(
        "--model",
        default="min-vae",
        help="a bundled prior by name (a-vae, v-vae, av-vae, av-cvae, min-vae), a "
        "checkpoint path, or diffusion-prior (default: min-vae)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="weights for --model NAME (an error if they are another model's)",
    )
    p.add_argument("--scheme", default="mcem-mh", choices=SCHEMES)
    p.add_argument(
        "--init",
        default=None,
        choices=all_inits(),
        help="where the chains start (default: the model's own; min-vae: visual)",
    )
    add_schedule_arguments(p)
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FIG.png",
        help="figure: noisy / enhanced spectrograms, uncertainty map, EM objective",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="OUT.json",
        help="settings, EM history, timings, acceptance as JSON",
    )
    p.add_argument(
        "--reference",
        type=Path,
        default=None,
        metavar="CLEAN.wav",
        help="clean reference: adds PESQ-WB, ESTOI, SI-SDR to the report",
    )
    p.add_argument("--resample", action="store_true", help="resample input of another rate")
    p.add_argument("--mixdown", action="store_true", help="average the channels of stereo input")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def check_output_paths(out: Path, plot: Path | None, report: Path | None) -> None:
    """Before any work: suffixes and folders of the outputs (so a run never fails at the end)."""
    if out.suffix.lower() != ".wav":
        raise ConfigError(f"{out}: the output must be a .wav file")
    if plot is not None and plot.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"{plot}: --plot writes .png, .pdf or .svg")
    if report is not None and report.suffix.lower() != ".json":
        raise ConfigError(f"{report}: --report writes a .json file")
    for path in (out, plot, report):
        if path is None:
            continue
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder; give a file name")
        if not path.parent.exists():
            raise ConfigError(f"{path.parent}: no such folder for {path.name}")
    named = [p.resolve() for p in (out, plot, report) if p is not None]
    if len(set(named)) != len(named):
        raise ConfigError("the output, --plot and --report must be different files")


def load_prior(model: str, checkpoint: Path | None, device: str):
    """A VAE prior from a name, a path, or a name + checkpoint (checked to be that model)."""
    from avgen.models import load_model
    from avgen.models.vae.names import MODEL_NAMES

    if checkpoint is not None:
        if model not in MODEL_NAMES:
            raise ConfigError(
                f"--checkpoint needs --model NAME (one of {', '.join(MODEL_NAMES)}), got {model!r}"
            )
        return load_model(checkpoint, expected=model, device=device)
    return load_model(model, device=device)


def run(args: argparse.Namespace) -> int:
    import torch

    from avgen.audio import load_audio, save_audio
    from avgen.files import atomic_path, write_text_atomic
    from avgen.pipelines.vae_nmf import enhance
    from avgen.pipelines.vae_nmf.report import describe_result
    from avgen.runtime import keep_freed_memory
    from avgen.video_align import read_video

    torch.set_num_threads(max(1, args.threads))
    keep_freed_memory()
    check_output_paths(args.out, args.plot, args.report)
    noisy = load_audio(args.noisy, mixdown=args.mixdown, resample_to_target=args.resample)
    reference = None
    if args.reference is not None:
        reference = load_audio(
            args.reference, mixdown=args.mixdown, resample_to_target=args.resample
        )
    video = fps = None
    if args.video is not None:
        video, fps = read_video(args.video, args.fps)
    elif args.fps is not None:
        raise ConfigError("--fps is the frame rate of --video; give --video too")
    if args.model == DIFFUSION_MODEL:
        return run_diffusion(args, noisy, reference)
    schedule = schedule_from_args(args)
    model = load_prior(args.model, args.checkpoint, args.device)
    if video is not None and not model.uses_lips:
        print(f"note: {model.name} is audio-only: --video is not used")
    result = enhance(
        noisy,
        model,
        lips=video,
        fps=fps or 25.0,
        scheme=args.scheme,
        init=args.init,
        schedule=schedule,
        seed=args.seed,
        device=args.device,
        progress=None if not args.no_progress else False,
    )
    metrics = None
    if reference is not None:
        from avgen.metrics import evaluate

        metrics = {
            "noisy": evaluate(reference, noisy),
            "enhanced": evaluate(reference, result.estimate),
        }
    figure = None
    if args.plot is not None:
        from avgen.pipelines.vae_nmf.figure import render_figure

        buffer = io.BytesIO()
        render_figure(
            result,
            buffer,
            fmt=args.plot.suffix.lower().lstrip("."),
            clean=reference,
            title=f"{args.noisy.name}: {model.name}, {args.scheme}",
        )
        figure = buffer.getvalue()
    report = None
    if args.report is not None:
        report = json.dumps(report_dict(result, args, metrics), indent=2)
    save_audio(args.out, result.estimate)
    if figure is not None:
        with atomic_path(args.plot) as tmp:
            tmp.write_bytes(figure)
    if report is not None:
        write_text_atomic(args.report, report)
    print(describe_result(result, source=str(args.noisy)))
    if metrics is not None:
        for name in ("noisy", "enhanced"):
            m = metrics[name]
            print(
                f"{name:>8}: PESQ-WB {m['pesq_wb']:.2f}  ESTOI {m['estoi']:.3f}  "
                f"SI-SDR {m['si_sdr']:.2f} dB"
            )
    written = [str(p) for p in (args.out, args.plot, args.report) if p is not None]
    print("wrote " + ", ".join(written))
    return 0


def report_dict(result, args: argparse.Namespace, metrics: dict | None) -> dict:
    from avgen.pipelines.vae_nmf.report import finite_or_none

    history = result.history.as_dict()
    history["objective"] = [finite_or_none(v) for v in history["objective"]]
    return {
        "input": str(args.noisy),
        "video": None if args.video is None else str(args.video),
        "output": str(args.out),
        "checkpoint": None if args.checkpoint is None else str(args.checkpoint),
        **result.info,
        "history": history,
        "uncertainty": {
            "mean_posterior_variance": float(result.uncertainty.mean()),
            "mean_relative_std": float(
                (
                    result.uncertainty.sqrt() / result.observation_power.sqrt().clamp_min(1e-12)
                ).mean()
            ),
        },
        "metrics": metrics,
    }


def run_diffusion(args: argparse.Namespace, noisy, reference) -> int:
    """``--model diffusion-prior``: posterior sampling with the bundled diffusion prior and NMF
    noise (:func:`avgen.pipelines.diffusion.enhance_diffusion`); ``--steps`` sets the reverse
    steps, ``--rank`` the NMF rank. Video is not used by this prior."""
    import json

    from avgen.audio import save_audio
    from avgen.files import write_text_atomic
    from avgen.metrics import evaluate

    if args.video is not None:
        print("note: the diffusion prior is audio-only: --video is not used")
    if args.plot is not None:
        print("note: --plot is drawn for the VAE priors only; none written")
    options = {
        "seed": args.seed,
        "device": args.device,
        "progress": None if not args.no_progress else False,
    }
    if args.steps is not None:
        options["steps"] = args.steps
    if args.rank is not None:
        options["nmf_rank"] = args.rank
    from avgen.pipelines.diffusion import enhance_diffusion

    result = enhance_diffusion(noisy, **options)
    info = result.info
    save_audio(args.out, result.estimate)
    print(
        f"enhanced {args.noisy} ({noisy.numel() / 16_000:.2f} s) with the diffusion speech "
        f"prior: {info['sampler']} sampler, {info['steps']} reverse steps, NMF noise of rank "
        f"{info['nmf_rank']} updated after every step, seed {info['seed']}; "
        f"{info['seconds']:.1f} s (real-time factor {info['real_time_factor']:.2f})"
    )
    metrics = None
    if reference is not None:
        metrics = {
            "noisy": evaluate(reference, noisy),
            "enhanced": evaluate(reference, result.estimate),
        }
        for name, row in metrics.items():
            print(f"{name:9s}" + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    if args.report is not None:
        plain = {k: v for k, v in info.items() if isinstance(v, (int, float, str, bool, dict))}
        write_text_atomic(
            args.report,
            json.dumps(
                {
                    "model": "diffusion-prior",
                    "info": plain,
                    "history": result.history.as_dict(),
                    "metrics": metrics,
                },
                indent=1,
            )
            + "\n",
        )
    print(f"wrote {args.out}" + (f", {args.report}" if args.report is not None else ""))
    return 0
