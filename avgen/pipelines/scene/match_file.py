"""One file through an MVSD converter, as ``avgen match`` and ``avgen dereverb --image`` do:
check the outputs, read and check the audio and the picture, convert, write atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from avgen.errors import ConfigError
from avgen.pipelines.dereverb_file import check_output
from avgen.pipelines.result import FileOutcome


@dataclass(frozen=True)
class SceneRequest:
    """Everything one conversion needs (the command line's options).

    ``kind``: ``"match"`` (dry speech -> the room of the picture) or ``"dereverb"`` (remove it).
    ``mvsd``: a checkpoint of ``avgen train --model mvsd`` (``None``: the bundled weights).
    """

    kind: Literal["match", "dereverb"]
    source: Path
    image: Path | None
    output: Path
    mvsd: Path | None = None
    steps: int = 25
    resample: bool = False
    mixdown: bool = False
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None


def convert_file(request: SceneRequest) -> FileOutcome:
    """Convert ``request.source`` into ``request.output`` (module docstring)."""
    from avgen.audio import SAMPLE_RATE, load_audio, save_audio
    from avgen.images import load_picture
    from avgen.pipelines.scene.mvsd import dereverberate, load_mvsd_model, match

    r = request
    if r.kind not in ("match", "dereverb"):
        raise ConfigError(f"kind must be 'match' or 'dereverb', got {r.kind!r}")
    if r.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {r.steps}")
    check_output(r.output, "the output", r.source)
    if r.image is not None and r.image.resolve() == r.output.resolve():
        raise ConfigError(f"{r.output}: the output may not overwrite --image")
    wave = load_audio(r.source, mixdown=r.mixdown, resample_to_target=r.resample)
    notes: list[str] = []
    pixels = None
    if r.image is not None:
        loaded = load_picture(r.image)
        pixels = loaded.pixels
        notes.extend(f"note: {r.image.name}: {n}" for n in loaded.notes)
    model = load_mvsd_model(r.mvsd, r.device)
    if pixels is not None and not model.config.use_picture:
        notes.append("note: this MVSD model was trained without the picture: --image is not used")
    run = match if r.kind == "match" else dereverberate
    result = run(wave, pixels, model=model, steps=r.steps, seed=r.seed, device=r.device,
                 progress=r.progress)  # fmt: skip
    save_audio(r.output, result.estimate)
    info = result.info
    what = "matched to the room of" if r.kind == "match" else "dereverberated with the room of"
    where = r.image.name if r.image is not None else "no picture (a picture-free model)"
    lines = [
        *notes,
        f"{r.source.name} {what} {where}: wrote {r.output} "
        f"({result.estimate.numel() / SAMPLE_RATE:.2f} s; {info['steps']} steps in "
        f"{info['seconds']:.1f} s, real-time factor {info['real_time_factor']:.2f})",
    ]
    return FileOutcome(result, lines, [r.output])
