"""The enhanced clips of a scene kit: the paper's self-supervised input (``--enhanced``).

Li et al. (ECCV 2024) train the stylizer on the clip's speech *after enhancement*: the input
keeps the speech and (ideally) loses the scene. :func:`enhance_clips` runs the library's own
audio-only enhancer on every ``clip.wav`` -- the bundled default prior
:data:`avgen.pipelines.enhance_file.AUDIO_ONLY_DEFAULT` (A-VAE) with the MCEM-MH scheme and
only ``iterations`` EM iterations (the papers' 100 would cost minutes per clip on a CPU) -- and
writes ``enhanced.wav`` next to it. It removes ambience, not reverberation: the enhanced
input keeps some of the room (the "audio nostalgia" that the added noise of
:func:`avgen.data.scenes.pairs.stylize_pairs` works against).

Resumable: each ``enhanced.wav`` is written atomically and skipped when present. Seeded per
clip (``derive_seed(seed, "enhance", clip)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ENHANCED_NAME = "enhanced.wav"


def enhanced_path(clip_wav: str) -> str:
    """Where the enhanced version of a clip's ``clip.wav`` lies (relative to the kit)."""
    return str(Path(clip_wav).with_name(ENHANCED_NAME))


def enhance_clips(
    root: Path,
    clips: list[Any],
    *,
    iterations: int = 10,
    seed: int = 0,
    progress: bool | None = None,
) -> int:
    """Write ``enhanced.wav`` of every clip of ``clips`` (:class:`ClipRecord`) that lacks one;
    returns how many were written."""
    import dataclasses

    import numpy as np
    import torch

    from avgen.audio import load_audio
    from avgen.data.rooms.kit import save_float_wav
    from avgen.pipelines.enhance_file import AUDIO_ONLY_DEFAULT, load_prior
    from avgen.pipelines.long import enhance_long
    from avgen.pipelines.vae_nmf.schemes import EMSchedule
    from avgen.progress import progress_bar
    from avgen.seeding import derive_seed

    todo = [
        c for c in sorted(clips, key=lambda c: c.id) if not (root / enhanced_path(c.clip)).exists()
    ]
    if not todo:
        return 0
    model = load_prior(AUDIO_ONLY_DEFAULT, None, "cpu")
    schedule = dataclasses.replace(EMSchedule(), n_iter=iterations)
    with progress_bar(len(todo), desc="enhancing clips", enabled=progress) as bar:
        for clip in todo:
            noisy = load_audio(root / clip.clip)
            with torch.no_grad():
                result = enhance_long(
                    noisy, model, schedule=schedule, seed=derive_seed(seed, "enhance", clip.id)
                )
            y = result.estimate.detach().cpu().numpy()[: noisy.numel()]
            y = np.pad(y, (0, noisy.numel() - y.size))
            save_float_wav(root / enhanced_path(clip.clip), y, 16_000)
            bar.update(1)
    return len(todo)
