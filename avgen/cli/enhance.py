"""``avgen enhance``: unsupervised (audio-visual) speech enhancement of one recording, of any
length, or of a batch of them.

This module parses and prints; the work is one library call: :func:`avgen.pipelines.enhance_file.
enhance_file` for one file (everything checked before any work, outputs written atomically),
:func:`avgen.pipelines.batch.run_batch` over it for a folder or a list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from avgen.errors import ConfigError

DIFFUSION_MODEL = "diffusion-prior"


def add_schedule_arguments(p: argparse.ArgumentParser) -> None:
    """The schedule's options (defaults: :class:`EMSchedule`)."""
    g = p.add_argument_group(
        "schedule (defaults: NMF rank K=4, the papers' 100 iterations, MH 20 steps of which "
        "10 burn-in (MALA, Langevin: the papers' 40 and 30), proposal variance 0.01, final run)"
    )
    g.add_argument(
        "--rank",
        type=int,
        default=None,
        help="NMF rank K (with --nmf-prior ard: the rank it starts from, default 16)",
    )
    g.add_argument(
        "--nmf-prior",
        default=None,
        choices=("none", "ard", "smooth", "smooth-h"),
        help="prior on the NMF noise model: none (maximum likelihood, the default), ard "
        "(relevance determination: components the recording does not need are pruned), "
        "smooth (inverse-gamma Markov chains: slowly varying activations, MAP of log H), "
        "smooth-h (the same, the paper's MAP of H)",
    )
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
        "--mh-adapt",
        type=float,
        default=None,
        metavar="ACCEPTANCE",
        help="mcem-mh: adapt each frame's proposal step in burn-in to this acceptance "
        "(default: the papers' fixed proposal variance)",
    )
    g.add_argument(
        "--switch-at",
        type=int,
        default=None,
        help="--init switch: the EM iteration at which each frame's chains re-start at the "
        "audio or visual encoder by its responsibility (default 10)",
    )
    g.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop when the objective's relative change is below this",
    )


def schedule_from_args(args: argparse.Namespace, base=None):
    from avgen.pipelines.vae_nmf.schemes import ARD_START_RANK, EMSchedule

    base = base or EMSchedule()
    nmf_prior = getattr(args, "nmf_prior", None)
    rank = args.rank
    if rank is None and nmf_prior == "ard":
        rank = ARD_START_RANK
    schedule = base.replace(
        rank=rank,
        nmf_prior=nmf_prior,
        n_iter=args.em_iters,
        n_steps=args.steps,
        burn_in=args.burn_in,
        proposal_variance=args.proposal_variance,
        final_steps=args.final_steps,
        final_burn_in=args.final_burn_in,
        tol=args.tol,
        chains=getattr(args, "chains", None),
        mh_adapt=getattr(args, "mh_adapt", None),
        switch_at=getattr(args, "switch_at", None),
    )
    check_steps(schedule, getattr(args, "scheme", None), getattr(args, "model", None))
    return schedule


def check_steps(schedule, scheme: str | None, model: str | None) -> None:
    """Refuse, before any work, steps and burn-in that leave a sampler no sample (the scheme's
    defaults fill what is not given; a temporal prior by name keeps the papers' 40/30)."""
    from avgen.models.vae.names import TEMPORAL_MODEL_NAMES
    from avgen.pipelines.vae_nmf.schemes import canonical_scheme

    if model in TEMPORAL_MODEL_NAMES:
        key, label = None, f"{model}'s sampler (the papers' 40/30 unless given)"
    else:
        key, label = canonical_scheme(scheme or "mcem-mh"), None
    schedule.steps_for(key, label=label)
    schedule.steps_for(key, final=True, label=label)


def register(sub: argparse._SubParsersAction) -> None:
    from avgen.models.vae.registry import all_inits
    from avgen.pipelines.vae_nmf.schemes import SCHEMES

    p = sub.add_parser(
        "enhance",
        help="enhance noisy speech with a VAE speech prior and NMF "
        "noise (unsupervised; lips help the audio-visual priors)",
        description="Unsupervised speech enhancement: a trained speech prior "
        "(a-vae, v-vae, av-vae, av-cvae, min-vae, dkf, or a checkpoint) and an NMF "
        "noise model fitted to the input alone by Monte-Carlo EM. Writes the "
        "posterior-mean speech; --plot adds spectrograms and the uncertainty "
        "map, --report the settings, EM history and timings as JSON.",
    )
    p.add_argument(
        "noisy",
        type=Path,
        help="noisy speech, mono 16 kHz (see --resample); or a folder of wavs, or a .txt "
        "list of paths ('AUDIO [LIPS]' a line), for a batch",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        required=True,
        help="enhanced wav to write (a batch: the folder to write them in)",
    )
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
        default=None,
        help="a bundled prior by name (a-vae, v-vae, av-vae, av-cvae, min-vae; dkf, the deep "
        "Kalman filter: a temporal prior, --scheme mcem-mh (checkerboard MH) or vem (its guide "
        "fine-tuned)), "
        "a checkpoint path, or diffusion-prior (default: min-vae with --video, a-vae without)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="weights for --model NAME (an error if they are another model's)",
    )
    p.add_argument(
        "--scheme",
        default=None,
        choices=SCHEMES,
        help="the E-step (default: mcem-mh; a temporal prior: its own, e.g. mcem-mala for an RVAE)",
    )
    p.add_argument(
        "--init",
        default=None,
        choices=all_inits(),
        help="where the chains start (default: the model's own; min-vae: visual)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        choices=("rnnoise", "dfn3", "spectral-gating"),
        help="warm start from a supervised enhancer's estimate (extra avgen[references]): the "
        "chains at the encoder on it, the NMF on its residual; not an unsupervised result",
    )
    add_schedule_arguments(p)
    p.add_argument(
        "--chains",
        type=int,
        default=None,
        help="independent chains per frame, their samples pooled (default 1)",
    )
    add_long_and_batch_arguments(p, "enhanced")
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


def add_long_and_batch_arguments(p: argparse.ArgumentParser, noun: str) -> None:
    """Options for long inputs (segments) and for batches (a folder or list of inputs)."""
    g = p.add_argument_group(
        "long recordings and batches",
        f"Inputs longer than --segment-threshold seconds are {noun} in overlapping segments "
        "(bounded memory, one progress bar; defaults: VAE priors 30 s segments, 2 s overlap, "
        "threshold 60 s; diffusion prior 20 s, 2 s, 24 s; dereverb 6 s, 1 s, 8 s). A folder "
        "or a .txt list as input, with -o a folder, runs a batch: a summary table at the "
        "end, failed files listed with their reason, finished outputs skipped on a rerun, "
        "exit status 1 if any file failed.",
    )
    g.add_argument("--segment", type=float, default=None, metavar="S", help="segment length (s)")
    g.add_argument("--overlap", type=float, default=None, metavar="S", help="cross-fade (s)")
    g.add_argument(
        "--segment-threshold",
        type=float,
        default=None,
        metavar="S",
        help="inputs up to this long run whole, exactly as without segments",
    )
    g.add_argument("--jobs", type=int, default=1, help="batch: files processed in parallel")
    g.add_argument("--no-resume", action="store_true", help="batch: redo files whose output exists")


def segment_plan(args: argparse.Namespace, base: str):
    """The options' :class:`~avgen.pipelines.segments.SegmentPlan` over the pipeline's default,
    or ``None`` (the default) when none is given."""
    import dataclasses

    from avgen.pipelines.long import DEREVERB_PLAN, DIFFUSION_PLAN, SegmentPlan

    given = {"segment_s": args.segment, "overlap_s": args.overlap}
    given["threshold_s"] = args.segment_threshold
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return None
    plans = {"vae": SegmentPlan(), "diffusion": DIFFUSION_PLAN, "dereverb": DEREVERB_PLAN}
    return dataclasses.replace(plans[base], **given)


def run_cli_batch(args: argparse.Namespace, source, outdir, process_one) -> int:
    """A folder or list of inputs through ``process_one`` (a batch item -> its summary line):
    :func:`avgen.pipelines.batch.run_batch` with the command's ``--jobs``, resume and threads;
    prints the summary table; exit status 1 if any file failed."""
    from avgen.pipelines.batch import collect_items, run_batch

    items = collect_items(source, outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = run_batch(
        items,
        process_one,
        jobs=args.jobs,
        resume=not args.no_resume,
        threads=args.threads,
        progress=False if args.no_progress else None,
    )
    print(summary.table())
    return 1 if summary.failed else 0


def run(args: argparse.Namespace) -> int:
    """Parse -> one library call (:func:`avgen.pipelines.enhance_file.enhance_file`, or
    :func:`avgen.pipelines.batch.run_batch` of it) -> print."""
    import functools

    import torch

    from avgen.pipelines.batch import is_batch_input
    from avgen.pipelines.enhance_file import EnhanceRequest, enhance_file, enhance_item
    from avgen.runtime import keep_freed_memory

    if args.threads < 1 or args.jobs < 1:
        raise ConfigError(f"need --threads >= 1 and --jobs >= 1, got {args.threads}, {args.jobs}")
    keep_freed_memory()
    if args.model == DIFFUSION_MODEL and args.nmf_prior not in (None, "none"):
        raise ConfigError("--nmf-prior is for the VAE priors; the diffusion prior's NMF has none")
    request = EnhanceRequest(
        noisy=args.noisy,
        out=args.out,
        model=args.model,
        checkpoint=args.checkpoint,
        video=args.video,
        fps=args.fps,
        scheme=args.scheme,
        init=args.init,
        schedule=None if args.model == DIFFUSION_MODEL else schedule_from_args(args),
        diffusion_steps=args.steps,
        diffusion_rank=args.rank,
        plot=args.plot,
        report=args.report,
        reference=args.reference,
        resample=args.resample,
        mixdown=args.mixdown,
        seed=args.seed,
        device=args.device,
        progress=False if args.no_progress else None,
        plan=segment_plan(args, "diffusion" if args.model == DIFFUSION_MODEL else "vae"),
        init_from=args.init_from,
    )
    if not is_batch_input(args.noisy):
        torch.set_num_threads(args.threads)
        print("\n".join(enhance_file(request).lines))
        return 0
    for flag, value in (("--video", args.video), ("--plot", args.plot), ("--report", args.report),
                        ("--reference", args.reference)):  # fmt: skip
        if value is not None:
            raise ConfigError(
                f"{flag} is for one file; in a batch the lips are found next to each wav "
                "(same name, .npy or video) or given as a second column of the list"
            )
    return run_cli_batch(
        args, args.noisy, args.out, functools.partial(enhance_item, request=request)
    )
