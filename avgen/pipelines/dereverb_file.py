"""Dereverberate one file, as ``avgen dereverb`` does: read, check, run, write -- one call.

:func:`dereverb_file` checks the outputs (suffixes, folders, never the input's path), reads the
audio, runs :func:`avgen.pipelines.long.dereverberate_long` (the plain pipeline below the
segmentation threshold, overlapping segments beyond it), writes the estimate and optionally the
estimated RIR atomically, and returns the sentences to print. :func:`dereverb_item` is the same
for one :class:`~avgen.pipelines.batch.BatchItem` of a batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from avgen.errors import AudioError, ConfigError
from avgen.pipelines.batch import BatchItem
from avgen.pipelines.result import FileOutcome
from avgen.pipelines.segments import SegmentPlan


@dataclass(frozen=True)
class DereverbRequest:
    """Everything ``avgen dereverb`` needs for one file (the command line's options)."""

    source: Path
    output: Path
    rir_out: Path | None = None
    steps: int = 30
    sampler: str = "ddim"
    prior: Path | None = None
    resample: bool = False
    mixdown: bool = False
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None
    plan: SegmentPlan | None = None


def check_output(path: Path, name: str, source: Path) -> None:
    """Before any work: a .wav/.flac in an existing folder, not the input."""
    if path.suffix.lower() not in (".wav", ".flac"):
        raise AudioError(f"{path}: {name} must end in .wav or .flac")
    if not path.parent.is_dir():
        raise AudioError(f"{path}: the folder {path.parent} does not exist")
    if path.resolve() == source.resolve():
        raise ConfigError(f"{path}: {name} may not overwrite the input")


def dereverb_file(request: DereverbRequest) -> FileOutcome:
    """Dereverberate ``request.source`` into ``request.output`` (module docstring)."""
    from avgen.audio import load_audio, save_audio
    from avgen.pipelines.long import dereverberate_long

    r = request
    if r.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {r.steps}")
    check_output(r.output, "the output", r.source)
    if r.rir_out is not None:
        check_output(r.rir_out, "--rir-out", r.source)
        if r.rir_out.resolve() == r.output.resolve():
            raise ConfigError("the output and --rir-out must be different files")
    wav = load_audio(r.source, mixdown=r.mixdown, resample_to_target=r.resample)
    result = dereverberate_long(
        wav,
        prior=r.prior,
        steps=r.steps,
        sampler=r.sampler,
        seed=r.seed,
        device=r.device,
        progress=r.progress,
        plan=r.plan,
    )
    save_audio(r.output, result.estimate)
    written = [r.output]
    if r.rir_out is not None:
        save_audio(r.rir_out, result.extras["rir"], subtype="FLOAT")
        written.append(r.rir_out)
    info = result.info
    lines = ["estimated T60 per octave band:"]
    for centre, t60 in result.extras["t60_per_band"].items():
        lines.append(f"  {centre:>6.0f} Hz  {t60:.3f} s")
    lines.append(f"  broadband (Schroeder T30 of the estimated RIR)  {info['t60_broadband']:.3f} s")
    seg = info.get("segmentation")
    if seg is not None:
        lines.append(
            f"processed in {seg['n_segments']} overlapping segments of at most "
            f"{seg['segment_s']:g} s ({seg['overlap_s']:g} s cross-fades), the room estimated "
            "per segment: T60 per band = the median over segments, RIR = the median segment's"
        )
    lines.append(
        "wrote "
        + " and ".join(str(p) for p in written)
        + f" ({info['seconds']:.1f} s, real-time factor {info['real_time_factor']:.1f})"
    )
    return FileOutcome(result, lines, written)


def dereverb_item(item: BatchItem, request: DereverbRequest) -> str:
    """One file of a batch (no RIR, no progress bar); the batch table's one-line summary."""
    one = dataclasses.replace(
        request, source=item.source, output=item.output, rir_out=None, progress=False
    )
    info = dereverb_file(one).result.info
    return (
        f"{info['duration_s']:.1f} s audio in {info['seconds']:.1f} s "
        f"(RTF {info['real_time_factor']:.2f}), T60 {info['t60_broadband']:.2f} s"
    )
