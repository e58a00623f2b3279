"""Training a VAE prior on a data kit: the kit's frames, the model (possibly built from trained
parts), and the run, as library calls (``avgen train`` only parses and prints).

* :func:`load_kit_frames` -- a kit split as :class:`~avgen.models.vae.train.FrameTensors`;
* :func:`build_for_training` -- a fresh model of a size, or a MIN-VAE assembled from a trained
  A-VAE (audio encoder + decoder) and V-VAE (visual encoder), or a V-VAE on an A-VAE's decoder
  (Sadeghi & Alameda-Pineda 2021's recipe);
* :func:`train_from_kit` -- both of the above, then :func:`~avgen.models.vae.train.fit`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avgen.data.perturb import Perturbation
from avgen.errors import ConfigError, DataError
from avgen.models.vae.frames import FrameTensors
from avgen.models.vae.models import SpeechVAE
from avgen.models.vae.networks import lip_side
from avgen.models.vae.registry import MODEL_CLASSES, build_model
from avgen.models.vae.train import TrainConfig, TrainResult, fit

#: the configuration fields a model takes from each trained part it is built from
_SHARED_FIELDS = {
    "a-vae": ("n_freq", "latent_dim", "hidden_dim"),
    "v-vae": (
        "lip_dim",
        "visual_hidden_dim",
        "visual_net",
        "lip_input",
        "latent_dim",
        "hidden_dim",
    ),
}


def load_kit_frames(
    data: str | os.PathLike[str],
    split: str,
    lip_dim: int,
    kit_noise_seed: int | None = None,
    augment: Perturbation | None = None,
) -> FrameTensors:
    """Frames of a kit split; with ``kit_noise_seed``, also the power of the same frames mixed
    with the kit's seen noises (``noisy_power``, for corrupting the MIN-VAE's audio input);
    with ``augment`` (train split only), also the frames of perturbed copies of each utterance
    (:class:`~avgen.data.perturb.Perturbation`: speed perturbation and VTLP)."""
    from avgen.data import datasets

    lip_size = lip_side(lip_dim)
    if kit_noise_seed is None:
        dataset = datasets.FrameDataset(data, split, lip_size=lip_size, augment=augment)
        power, lips = dataset.as_tensors()
        return FrameTensors(power, lips)
    dataset = datasets.FrameDataset(
        data,
        split,
        lip_size=lip_size,
        corrupt_audio=datasets.NoiseCorruption(data, seed=kit_noise_seed),
        augment=augment,
    )
    power, lips = dataset.as_tensors()
    noisy_power, _ = dataset.corrupted_tensors()
    return FrameTensors(power, lips, noisy_power)


def check_parts(name: str, a_vae: bool, v_vae: bool) -> None:
    """:class:`ConfigError` unless ``name`` can be built from the trained parts named (call it
    before loading them)."""
    if name not in ("min-vae", "v-vae") and (a_vae or v_vae):
        raise ConfigError("--init-from-a-vae / --init-from-v-vae apply to min-vae and v-vae")
    if name == "v-vae" and v_vae:
        raise ConfigError("a v-vae is initialised with --init-from-a-vae only")


def build_for_training(
    name: str,
    *,
    size: str = "paper",
    seed: int = 0,
    a_vae: SpeechVAE | None = None,
    v_vae: SpeechVAE | None = None,
    visual_net: str = "mlp",
    latent_dim: int | None = None,
    responsibility: str = "closed-form",
    hidden_dim: int | None = None,
) -> SpeechVAE:
    """A model ready to train: :func:`~avgen.models.vae.registry.build_model` with the sizes of
    the trained parts given (``latent_dim`` / ``hidden_dim``, when given, win), initialised
    from them (``min-vae``: audio encoder + decoder from ``a_vae``, visual encoder from ``v_vae``;
    ``v-vae``: ``a_vae``'s decoder, to be trained frozen). ``responsibility`` applies to the
    MIN-VAE only."""
    check_parts(name, a_vae is not None, v_vae is not None)
    options: dict[str, Any] = {"visual_net": visual_net}
    for part, expected in ((a_vae, "a-vae"), (v_vae, "v-vae")):
        if part is not None:
            if part.name != expected:
                raise ConfigError(f"expected a trained {expected}, got {part.name}")
            options.update({k: getattr(part.config, k) for k in _SHARED_FIELDS[expected]})
    if latent_dim is not None:
        options["latent_dim"] = latent_dim
    if hidden_dim is not None:
        options["hidden_dim"] = hidden_dim
    if "responsibility" in MODEL_CLASSES[name].config_class.__dataclass_fields__:
        options["responsibility"] = responsibility
    model = build_model(name, size=size, seed=seed, **options)
    if name == "min-vae" and (a_vae or v_vae):
        model.init_from(a_vae, v_vae)
    elif name == "v-vae" and a_vae is not None:
        model.init_from(a_vae)
    return model


def train_from_kit(
    model: SpeechVAE,
    data: str | os.PathLike[str],
    config: TrainConfig,
    *,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    kit_noise: bool = False,
    augment: Perturbation | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``model`` on the kit's train split, validating on its val split (speaker-disjoint),
    writing ``checkpoint`` after every epoch (see :func:`~avgen.models.vae.train.fit`);
    ``kit_noise``: corrupt the audio-encoder input with the kit's seen noises; ``augment``:
    add perturbed copies of the train utterances (speed, VTLP; never to val) and record it in
    ``config.augmentation``; ``log``: where to say what is about to be trained."""
    from avgen.data.kit.records import manifest_hash

    lip_dim = model.config.lip_dim
    train = load_kit_frames(
        data, "train", lip_dim, kit_noise_seed=seed if kit_noise else None, augment=augment
    )
    if augment is not None:
        config = dataclasses.replace(config, augmentation=augment.describe())
    val = load_kit_frames(data, "val", lip_dim)
    if train.power.shape[1] != model.config.n_freq:
        raise DataError(
            f"{data}: frames have {train.power.shape[1]} bins, the model {model.config.n_freq}"
        )
    if log is not None:
        n_weights = sum(p.numel() for p in model.parameters())
        log(
            f"training {model.name} ({n_weights:,} parameters) on {train.n_frames:,} frames, "
            f"validating on {val.n_frames:,}"
        )
    return fit(
        model,
        train,
        val,
        config,
        seed=seed,
        checkpoint=None if checkpoint is None else Path(checkpoint),
        resume=resume,
        progress=progress,
        data_manifest_hash=manifest_hash(data),
    )
