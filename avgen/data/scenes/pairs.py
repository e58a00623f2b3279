"""Self-supervised stylization pairs and synthesized test items from a scene kit.

**Pairs** (:func:`stylize_pairs`), as Li et al. (ECCV 2024, "Self-Supervised Audio-Visual
Soundscape Stylization") make them: for every clip ``i`` of a split,

* ``target`` = the clip's ``clip.wav`` (speech in the scene plus its ambience);
* ``example`` = ``clip.wav`` of ANOTHER clip of the SAME video (seeded choice), and
  ``picture`` = the video's picture: the condition never comes from another video;
* ``content`` = the clip's speech with the scene removed, plus a little Gaussian noise
  against the paper's "audio nostalgia" (the model copying leftovers of the scene from its
  input): ``content = s + noise_std * rms(s) * e``, ``e ~ N(0, I)`` seeded per clip, where
  ``s`` is the known dry speech (``content="dry"``, the controlled variant: no scene left at
  all) or ``enhanced.wav`` (``content="enhanced"``, the paper's variant, built by
  ``avgen data scenes --enhanced``).

**Test items** (:func:`stylize_test_items`): the kit's triplets -- dry input speech of one
video, the example clip and picture of another, and the synthesized target (that speech
through the other scene's response plus its ambience, :func:`render_in_scene`).

**Non-speech inputs** (``inputs="nonspeech"``): the same triplets with the dry speech replaced
by a procedural non-speech sound of the same length and RMS
(:data:`NONSPEECH_SOURCES`, from :mod:`avgen.data.noise.unusual`: notes and chords, whistles
and chirps, typing clicks, a harmonic machine; the i-th triplet takes source ``i mod 4``,
seeded by the triplet's id), rendered into the condition's scene by the same
:func:`render_in_scene` with the same response and ambience stretch. The kit holds speech
only (its stylizers never heard these sounds as content), so these items test whether a
stylizer transfers the scene to any input, as Li et al. (ECCV 2024) test on non-speech
sounds; nothing is written to the kit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from avgen.data.scenes.dataset import check_split, read_scene_kit
from avgen.data.scenes.enhanced import enhanced_path
from avgen.data.scenes.records import TEST_SPLITS
from avgen.errors import ConfigError, DataError
from avgen.seeding import derive_seed, numpy_generator, torch_generator


class StylizePair(NamedTuple):
    """One self-supervised training pair (module docstring); tensors are ``(N,)`` float32."""

    content: torch.Tensor
    target: torch.Tensor
    example: torch.Tensor
    picture: torch.Tensor  # (3, H, W) in [0, 1]
    video: str
    clip: str
    example_clip: str
    scene: str
    ambience: str


class StylizeTestItem(NamedTuple):
    """One test item with synthesized ground truth."""

    content: torch.Tensor  # dry input speech
    example: torch.Tensor  # condition clip.wav
    picture: torch.Tensor
    target: torch.Tensor
    scene: str
    kind: str
    ambience: str
    seen: bool
    id: str
    input_clip: str
    example_clip: str
    source: str = "speech"  # or the name of the non-speech generator (module docstring)


NONSPEECH_SOURCES = ("music", "whistles", "clicks", "harmonic-machine")
"""The sounds of :data:`avgen.data.noise.unusual.UNUSUAL_NOISES` used as non-speech inputs."""

TEST_INPUTS = ("speech", "nonspeech")


def render_in_scene(dry: np.ndarray, rir: np.ndarray, ambience: np.ndarray) -> np.ndarray:
    """The true stylized clip ``y[n] = sum_k rir[k] dry[n - k] + ambience[n]``, cut to the
    input's length (the convolution in float64, the sum in float32 as the kit's targets)."""
    from scipy.signal import fftconvolve

    dry = np.asarray(dry, dtype=np.float64)
    wet = fftconvolve(dry, np.asarray(rir, dtype=np.float64))[: dry.size].astype(np.float32)
    return wet + np.asarray(ambience, dtype=np.float32)[: dry.size]


def nonspeech_input(source: str, like: torch.Tensor, seed: int) -> torch.Tensor:
    """A ``source`` sound (:data:`NONSPEECH_SOURCES`) as long as ``like`` and at its RMS."""
    from avgen.data.noise.unusual import unusual_noise

    if source not in NONSPEECH_SOURCES:
        raise ConfigError(f"unknown non-speech source {source!r}; one of {NONSPEECH_SOURCES}")
    unit = unusual_noise(source, like.numel(), numpy_generator(seed))
    rms = float(like.double().square().mean().sqrt())
    return torch.from_numpy(np.asarray(unit, dtype=np.float32) * np.float32(rms))


def add_content_noise(x: torch.Tensor, noise_std: float, seed: int) -> torch.Tensor:
    """``x + noise_std * rms(x) * e`` with seeded ``e ~ N(0, I)`` (``noise_std`` >= 0)."""
    if noise_std < 0:
        raise ConfigError(f"noise_std must be >= 0, got {noise_std}")
    if noise_std == 0:
        return x.clone()
    rms = x.pow(2).mean().sqrt()
    e = torch.randn(x.shape, generator=torch_generator(seed), dtype=x.dtype)
    return x + noise_std * rms * e


def stylize_pairs(
    root: str | os.PathLike[str],
    split: str,
    *,
    content: str = "dry",
    noise_std: float = 0.01,
    seed: int = 0,
) -> list[StylizePair]:
    """The pairs of every clip of ``split`` (module docstring).

    Raises:
        ConfigError: unknown split or content, negative ``noise_std``.
        DataError: not a complete scene kit, or ``content="enhanced"`` on a kit built without
            ``--enhanced``.
    """
    if content not in ("dry", "enhanced"):
        raise ConfigError(f"content must be 'dry' or 'enhanced', got {content!r}")
    if noise_std < 0:
        raise ConfigError(f"noise_std must be >= 0, got {noise_std}")
    check_split(split)
    kit = read_scene_kit(root)
    if content == "enhanced":
        missing = [
            c.id for c in kit.split_clips(split) if not (kit.root / enhanced_path(c.clip)).exists()
        ]
        if missing:
            raise DataError(
                f"{kit.root}: {len(missing)} clips of {split} have no enhanced.wav; rerun "
                "`avgen data scenes` with the same options and --enhanced"
            )
    pictures: dict[str, torch.Tensor] = {}
    out = []
    for clip in kit.split_clips(split):
        video = kit.videos[clip.video]
        siblings = [c for c in video.clips if c != clip.id]
        rng = numpy_generator(derive_seed(seed, "example", clip.id))
        example_id = siblings[int(rng.integers(len(siblings)))]
        source = clip.dry if content == "dry" else enhanced_path(clip.clip)
        speech = kit.audio(source)
        if clip.picture not in pictures:
            pictures[clip.picture] = kit.picture(clip.picture)
        out.append(
            StylizePair(
                content=add_content_noise(speech, noise_std, derive_seed(seed, "content", clip.id)),
                target=kit.audio(clip.clip),
                example=kit.audio(kit.clips[example_id].clip),
                picture=pictures[clip.picture],
                video=video.id,
                clip=clip.id,
                example_clip=example_id,
                scene=clip.scene,
                ambience=clip.ambience_type,
            )
        )
    return out


def stylize_test_items(
    root: str | os.PathLike[str], split: str, *, inputs: str = "speech", seed: int = 0
) -> list[StylizeTestItem]:
    """The synthesized test items of ``test-seen`` or ``test-unseen`` with speech inputs (the
    kit's triplets) or non-speech ones (module docstring; ``seed`` picks their samples)."""
    if split not in TEST_SPLITS:
        raise ConfigError(f"test items exist for {', '.join(TEST_SPLITS)}, not {split!r}")
    if inputs not in TEST_INPUTS:
        raise ConfigError(f"inputs must be one of {', '.join(TEST_INPUTS)}, not {inputs!r}")
    kit = read_scene_kit(Path(root))
    out = []
    for i, t in enumerate(kit.triplets[split]):
        content, target, source = kit.audio(t.input), None, "speech"
        if inputs == "nonspeech":
            source = NONSPEECH_SOURCES[i % len(NONSPEECH_SOURCES)]
            content = nonspeech_input(source, content, derive_seed(seed, "nonspeech", t.id))
            rir = np.load(kit.root / kit.scenes[t.scene].rir)
            ambience = kit.audio(kit.clips[t.target_ambience_clip].ambience).numpy()
            target = torch.from_numpy(render_in_scene(content.numpy(), rir, ambience))
        out.append(
            StylizeTestItem(
                content=content,
                example=kit.audio(t.condition),
                picture=kit.picture(t.picture),
                target=kit.audio(t.target) if target is None else target,
                scene=t.scene,
                kind=t.kind,
                ambience=t.ambience_type,
                seen=t.seen,
                id=t.id,
                input_clip=t.input_clip,
                example_clip=t.condition_clip,
                source=source,
            )
        )
    return out
