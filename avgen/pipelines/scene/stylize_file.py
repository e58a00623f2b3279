"""One file through the soundscape stylizer, as ``avgen stylize`` does: check the outputs, read
and check the speech, the example and the picture, stylize, draw, write atomically."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from avgen.errors import ConfigError
from avgen.pipelines.enhance_file import check_output_paths
from avgen.pipelines.result import FileOutcome


@dataclass(frozen=True)
class StylizeRequest:
    """Everything one stylization needs (the command line's options).

    ``example``/``image``: the target scene's audio clip and picture (at least one).
    ``stylizer``: a checkpoint of ``avgen train --model stylizer`` (``None``: the bundled one).
    """

    source: Path
    output: Path
    example: Path | None = None
    image: Path | None = None
    plot: Path | None = None
    stylizer: Path | None = None
    guidance: float = 2.0
    steps: int = 25
    resample: bool = False
    mixdown: bool = False
    seed: int = 0
    device: str = "cpu"


def stylize_file(request: StylizeRequest) -> FileOutcome:
    """Stylize ``request.source`` into ``request.output`` (module docstring)."""
    from avgen.audio import SAMPLE_RATE, load_audio, save_audio
    from avgen.files import atomic_path
    from avgen.images import load_picture
    from avgen.pipelines.scene.stylize import load_stylizer_model, stylize

    r = request
    if r.example is None and r.image is None:
        raise ConfigError("give the target scene: --example CLIP.wav, --image SCENE.png or both")
    if r.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {r.steps}")
    check_output_paths(r.output, r.plot, None, (r.source, r.example, r.image))
    speech = load_audio(r.source, mixdown=r.mixdown, resample_to_target=r.resample)
    example = None
    if r.example is not None:
        example = load_audio(r.example, mixdown=r.mixdown, resample_to_target=r.resample)
    notes: list[str] = []
    pixels = None
    if r.image is not None:
        loaded = load_picture(r.image)
        pixels = loaded.pixels
        notes.extend(f"note: {r.image.name}: {n}" for n in loaded.notes)
    model = load_stylizer_model(r.stylizer, r.device)
    result = stylize(speech, example, pixels, model=model, guidance=r.guidance, steps=r.steps,
                     seed=r.seed, device=r.device)  # fmt: skip
    figure = None
    if r.plot is not None:
        from avgen.pipelines.scene.stylize_figure import render_stylize_figure

        buffer = io.BytesIO()
        render_stylize_figure(speech, result.estimate, buffer, example=example, picture=pixels,
                              fmt=r.plot.suffix.lower().lstrip("."),
                              title=f"{r.source.name}: guidance {r.guidance:g}")  # fmt: skip
        figure = buffer.getvalue()
    save_audio(r.output, result.estimate)
    written = [r.output]
    if figure is not None and r.plot is not None:
        with atomic_path(r.plot) as tmp:
            tmp.write_bytes(figure)
        written.append(r.plot)
    info = result.info
    scene = " and ".join(
        f"{what} {path.name}"
        for what, path in (("the sound of", r.example), ("the picture", r.image))
        if path is not None
    )
    lines = [
        *notes,
        f"{r.source.name} stylized to the scene of {scene} (guidance {info['guidance']:g}, "
        f"{info['steps']} steps, seed {info['seed']}; {result.estimate.numel() / SAMPLE_RATE:.2f}"
        f" s in {info['seconds']:.1f} s, real-time factor {info['real_time_factor']:.2f})",
        "wrote " + ", ".join(str(p) for p in written),
    ]
    return FileOutcome(result, lines, written)
