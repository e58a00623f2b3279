"""Enhance one file, as ``avgen enhance`` does: read, check, run, write -- one library call.

:func:`enhance_file` takes an :class:`EnhanceRequest` (paths and settings) and does everything
``avgen enhance IN -o OUT`` does: it checks the outputs (suffixes, folders, never an input's
path), reads the audio (and the lips, the reference), refuses a ``--plot`` that a very long
input could not draw, all before any inference; runs the VAE pipeline or the diffusion prior on
an input of any length (:mod:`avgen.pipelines.long`: segments beyond
:attr:`~avgen.pipelines.segments.SegmentPlan.threshold_s`, the plain pipeline below it); then
writes the wav, the figure and the JSON report atomically and returns the sentences to print.
:func:`enhance_item` is the same for one :class:`~avgen.pipelines.batch.BatchItem` of a batch.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgen.errors import ConfigError
from avgen.pipelines.batch import BatchItem
from avgen.pipelines.result import FileOutcome, PipelineResult
from avgen.pipelines.segments import SegmentPlan

DIFFUSION_MODEL = "diffusion-prior"


@dataclass(frozen=True)
class EnhanceRequest:
    """Everything ``avgen enhance`` needs for one file (the command line's options).

    ``schedule`` is the VAE pipeline's :class:`~avgen.pipelines.vae_nmf.EMSchedule` (``None``:
    the papers'); ``diffusion_steps`` / ``diffusion_rank`` the diffusion prior's reverse steps
    and NMF rank (``None``: its defaults); ``plan`` how long inputs are segmented (``None``:
    the pipeline's default).
    """

    noisy: Path
    out: Path
    model: str | None = None
    checkpoint: Path | None = None
    video: Path | None = None
    fps: float | None = None
    scheme: str | None = None  # None: mcem-mh, or a temporal prior's own
    init: str | None = None
    schedule: Any = None
    diffusion_steps: int | None = None
    diffusion_rank: int | None = None
    plot: Path | None = None
    report: Path | None = None
    reference: Path | None = None
    resample: bool = False
    mixdown: bool = False
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None
    plan: SegmentPlan | None = None
    init_from: str | None = None


def check_output_paths(
    out: Path, plot: Path | None, report: Path | None, inputs: tuple[Path | None, ...] = ()
) -> None:
    """Before any work: suffixes and folders of the outputs, all different, none an input."""
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
    for source in inputs:
        if source is not None and source.resolve() in named:
            raise ConfigError(f"{source}: an output may not overwrite an input")


AUDIO_ONLY_DEFAULT = "a-vae"
"""The prior ``avgen enhance`` uses without ``--model`` and without ``--video``: the best
audio-only configuration of the held-out real-speech benchmark (``benchmarks/enhance_quality.py``;
A-VAE with MCEM-MH reached 2.98 dB SI-SDR / 0.627 ESTOI at 0 dB where VEM reached 1.29 / 0.594)."""

AUDIO_VISUAL_DEFAULT = "min-vae"
"""The prior ``avgen enhance`` uses without ``--model`` when ``--video`` is given."""


def default_model(has_video: bool) -> str:
    """The bundled prior used when none is named: audio-visual with lips, audio-only without."""
    return AUDIO_VISUAL_DEFAULT if has_video else AUDIO_ONLY_DEFAULT


def load_prior(model: str, checkpoint: Path | None, device: str) -> Any:
    """A VAE prior from a name, a path, or a name + checkpoint (checked to be that model)."""
    from avgen.models import load_model
    from avgen.models.vae.names import PRIOR_NAMES

    if checkpoint is not None:
        if model not in PRIOR_NAMES:
            raise ConfigError(
                f"--checkpoint needs --model NAME (one of {', '.join(PRIOR_NAMES)}), got {model!r}"
            )
        return load_model(checkpoint, expected=model, device=device)
    return load_model(model, device=device)


def enhance_file(request: EnhanceRequest) -> FileOutcome:
    """Enhance ``request.noisy`` into ``request.out`` (module docstring)."""
    from avgen.audio import load_audio
    from avgen.video_align import read_video

    r = request
    check_output_paths(r.out, r.plot, r.report, (r.noisy, r.video, r.reference))
    noisy = load_audio(r.noisy, mixdown=r.mixdown, resample_to_target=r.resample)
    reference = None
    if r.reference is not None:
        reference = load_audio(r.reference, mixdown=r.mixdown, resample_to_target=r.resample)
    video = fps = None
    if r.video is not None:
        video, fps = read_video(r.video, r.fps)
    elif r.fps is not None:
        raise ConfigError("--fps is the frame rate of --video; give --video too")
    plan = r.plan or SegmentPlan()
    if r.plot is not None and not plan.keeps_maps(noisy.numel()):
        raise ConfigError(
            f"{r.noisy}: --plot draws inputs up to {plan.max_map_s:g} s; this one lasts "
            f"{noisy.numel() / 16_000:.0f} s (leave --plot out)"
        )
    notes: list[str] = []
    if r.model is None and r.checkpoint is not None:
        raise ConfigError("--checkpoint needs --model NAME (the model the weights are for)")
    if r.model is None:
        r = dataclasses.replace(r, model=default_model(video is not None))
        notes.append(
            f"note: no --model given: {r.model}, the "
            + (
                "audio-visual default (--video given)"
                if video is not None
                else "audio-only default"
            )
        )
    if r.model == DIFFUSION_MODEL:
        result = _run_diffusion(r, noisy, video, notes)
    else:
        result = _run_vae(r, noisy, video, fps, notes)
    return _write(r, noisy, reference, result, notes)


def _run_vae(r: EnhanceRequest, noisy: Any, video: Any, fps: float | None, notes: list[str]):
    from avgen.pipelines.long import enhance_long

    model = load_prior(r.model, r.checkpoint, r.device)
    if video is not None and not model.uses_lips:
        notes.append(f"note: {model.name} is audio-only: --video is not used")
    start_from, init = None, r.init
    if r.init_from is not None:
        from avgen.baselines.references import reference_enhance

        start_from = reference_enhance(r.init_from, noisy)
        init = init or "audio"
        notes.append(
            f"note: started from {r.init_from}'s estimate (chains at the encoder on it, NMF on "
            "its residual): a warm-started result, not an unsupervised one"
        )
    return enhance_long(
        noisy, model, lips=video, fps=fps or 25.0, scheme=r.scheme, init=init,
        schedule=r.schedule, seed=r.seed, device=r.device, progress=r.progress, plan=r.plan,
        start_from=start_from,
    )  # fmt: skip


def _run_diffusion(r: EnhanceRequest, noisy: Any, video: Any, notes: list[str]):
    from avgen.pipelines.long import enhance_diffusion_long

    if r.init_from is not None:
        raise ConfigError("--init-from warm-starts the VAE priors' EM; not the diffusion prior")
    if video is not None:
        notes.append("note: the diffusion prior is audio-only: --video is not used")
    if r.plot is not None:
        notes.append("note: --plot is drawn for the VAE priors only; none written")
    options: dict[str, Any] = {"device": r.device}
    if r.diffusion_steps is not None:
        options["steps"] = r.diffusion_steps
    if r.diffusion_rank is not None:
        options["nmf_rank"] = r.diffusion_rank
    return enhance_diffusion_long(noisy, seed=r.seed, progress=r.progress, plan=r.plan, **options)


def _write(
    r: EnhanceRequest, noisy: Any, reference: Any, result: PipelineResult, notes: list[str]
) -> FileOutcome:
    """Metrics, figure and report computed first, then every file written atomically."""
    from avgen.audio import save_audio
    from avgen.files import atomic_path, write_text_atomic

    diffusion = r.model == DIFFUSION_MODEL
    metrics = None
    if reference is not None:
        from avgen.metrics import evaluate

        enhanced = evaluate(reference, result.estimate)
        metrics = {"noisy": evaluate(reference, noisy), "enhanced": enhanced}
    figure = None
    if r.plot is not None and not diffusion:
        from avgen.pipelines.vae_nmf.figure import render_figure

        buffer = io.BytesIO()
        title = f"{r.noisy.name}: {result.info['model']}, {result.info['scheme']}"
        fmt = r.plot.suffix.lower().lstrip(".")
        render_figure(result, buffer, fmt=fmt, clean=reference, title=title)
        figure = buffer.getvalue()
    report = None
    if r.report is not None:
        report = json.dumps(report_dict(result, r, metrics), indent=2) + "\n"
    save_audio(r.out, result.estimate)
    written = [r.out]
    if figure is not None and r.plot is not None:
        with atomic_path(r.plot) as tmp:
            tmp.write_bytes(figure)
        written.append(r.plot)
    if report is not None and r.report is not None:
        write_text_atomic(r.report, report)
        written.append(r.report)
    lines = [*notes, describe(result, r)]
    if metrics is not None:
        for name in ("noisy", "enhanced"):
            m = metrics[name]
            lines.append(
                f"{name:>8}: PESQ-WB {m['pesq_wb']:.2f}  ESTOI {m['estoi']:.3f}  "
                f"SI-SDR {m['si_sdr']:.2f} dB"
            )
    lines.append("wrote " + ", ".join(str(p) for p in written))
    return FileOutcome(result, lines, written)


def describe(result: PipelineResult, r: EnhanceRequest) -> str:
    """What the run did, in sentences (and how it was segmented, if it was)."""
    info = result.info
    if r.model == DIFFUSION_MODEL:
        text = (
            f"enhanced {r.noisy} ({info['duration_s']:.2f} s) with the diffusion speech prior: "
            f"{info['sampler']} sampler, {info['steps']} reverse steps, NMF noise of rank "
            f"{info['nmf_rank']} updated after every step"
            + (
                f" down to {info['noise_until']:g} sigma_data, then held"
                if info.get("noise_until")
                else ""
            )
            + f", seed {info['seed']}; "
            f"{info['seconds']:.1f} s (real-time factor {info['real_time_factor']:.2f})"
        )
    else:
        from avgen.pipelines.vae_nmf.report import describe_result

        text = describe_result(result, source=str(r.noisy))
    seg = info.get("segmentation")
    if seg is not None:
        text += (
            f"\nprocessed in {seg['n_segments']} overlapping segments of at most "
            f"{seg['segment_s']:g} s ({seg['overlap_s']:g} s raised-cosine cross-fades), the "
            "noise model fitted per segment, each with a seed derived from the run's"
        )
    return text


def report_dict(result: PipelineResult, r: EnhanceRequest, metrics: dict | None) -> dict:
    """The JSON report: inputs, ``info``, the history, the uncertainty's summary, metrics."""
    from avgen.pipelines.vae_nmf.report import finite_or_none

    history = result.history.as_dict()
    if "objective" in history:
        history["objective"] = [finite_or_none(v) for v in history["objective"]]
    uncertainty = None
    if result.uncertainty is not None and result.observation_power is not None:
        relative = result.uncertainty.sqrt() / result.observation_power.sqrt().clamp_min(1e-12)
        uncertainty = {
            "mean_posterior_variance": float(result.uncertainty.mean()),
            "mean_relative_std": float(relative.mean()),
        }
    plain = {k: v for k, v in result.info.items() if _json_ready(v)}
    return {
        "input": str(r.noisy),
        "video": None if r.video is None else str(r.video),
        "output": str(r.out),
        "checkpoint": None if r.checkpoint is None else str(r.checkpoint),
        "init_from": r.init_from,
        **({"model": DIFFUSION_MODEL} if r.model == DIFFUSION_MODEL else {}),
        **plain,
        "history": history,
        "uncertainty": uncertainty,
        "metrics": metrics,
    }


def _json_ready(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def enhance_item(item: BatchItem, request: EnhanceRequest) -> str:
    """One file of a batch: ``request`` with this item's input, lips and output, no progress
    bar; returns the batch table's one-line summary."""
    one = dataclasses.replace(
        request, noisy=item.source, out=item.output, video=item.lips, progress=False
    )
    info = enhance_file(one).result.info
    seg = info.get("segmentation")
    return (
        f"{info['duration_s']:.1f} s audio in {info['seconds']:.1f} s "
        f"(RTF {info['real_time_factor']:.2f})"
        + ("" if seg is None else f", {seg['n_segments']} segments")
    )
