"""The VAE speech priors by name: build, load (bundled or from a checkpoint), list, bundle.

Names: ``"a-vae"``, ``"v-vae"``, ``"av-vae"``, ``"av-cvae"``, ``"min-vae"``.

* :func:`build_model` -- a fresh model of a size preset (``"paper"``: L = 32, 128 hidden,
  512 visual units; ``"small"``: L = 16, 64 hidden, 128 visual units) plus any option of
  :class:`~avgen.models.vae.models.VAEConfig`.
* :func:`load_model` -- ``load_model("min-vae")`` loads the weights bundled with the package
  (``avgen/assets/models/<name>.pt``, with its model card ``<name>.md``);
  ``load_model("path/to/ckpt.pt")`` loads a checkpoint written by ``avgen train``. Eval mode.
* :func:`list_bundled` -- what ``avgen models`` prints.
* :func:`slim_checkpoint` and :func:`write_model_card` -- what bundling needs: a checkpoint
  without the optimiser/resume state, and a card with data, settings, epochs, validation ELBO,
  training time and the data's licence.

A model card is Markdown with a front matter of ``key: value`` lines between ``---`` lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from avgen.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from avgen.errors import CheckpointError, ConfigError
from avgen.files import write_text_atomic
from avgen.models.vae.min_vae import MixtureInferenceVAE
from avgen.models.vae.models import (
    AudioVAE,
    AudioVisualCVAE,
    AudioVisualVAE,
    SpeechVAE,
    VisualVAE,
)
from avgen.models.vae.names import MODEL_NAMES, PRIOR_NAMES, SIZES, TEMPORAL_MODEL_NAMES

MODEL_CLASSES: dict[str, type[SpeechVAE]] = {
    cls.name: cls
    for cls in (AudioVAE, VisualVAE, AudioVisualVAE, AudioVisualCVAE, MixtureInferenceVAE)
}
assert tuple(MODEL_CLASSES) == MODEL_NAMES

#: front-matter keys of a model card that ``avgen models`` shows, with their column titles
CARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("epochs", "epochs"),
    ("val_elbo_per_frame", "val ELBO/frame"),
    ("training_time", "train time"),
    ("data", "data"),
    ("data_licence", "data licence"),
)


def all_inits() -> tuple[str, ...]:
    """Every start of the test-time chains some model offers (each model's own: ``inits``)."""
    return tuple(dict.fromkeys(i for cls in MODEL_CLASSES.values() for i in cls.inits))


def _model_class(name: str) -> type[SpeechVAE]:
    try:
        return MODEL_CLASSES[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}"
        ) from None


def build_model(name: str, *, size: str = "paper", seed: int = 0, **config: Any) -> SpeechVAE:
    """A fresh, untrained model: ``build_model("a-vae", size="small", latent_dim=8)``; its
    initial weights come from ``seed`` (the global random state is left as it was)."""
    cls = _model_class(name)
    if size not in SIZES:
        raise ConfigError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    options = {**SIZES[size], **config}
    known = {f for f in cls.config_class.__dataclass_fields__}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"{name}: unknown option(s) {', '.join(unknown)}")
    model_config = cls.config_class(**options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(model_config)


def model_from_checkpoint(ckpt: Checkpoint, origin: str = "checkpoint") -> SpeechVAE:
    """Rebuild the model a :class:`~avgen.checkpoint.Checkpoint` holds, weights loaded."""
    cls = _model_class(ckpt.model)
    try:
        model = cls(cls.config_class.from_dict(dict(ckpt.config)))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(
            f"{origin}: its configuration does not build a {ckpt.model} ({exc})"
        ) from None
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{origin}: weights do not fit a {ckpt.model} of its stated configuration ({first})"
        ) from None
    return model


def bundled_dir() -> Path:
    """Where bundled weights and cards live: ``avgen/assets/models``."""
    return Path(str(resources.files("avgen"))) / "assets" / "models"


def as_model(model_or_name: Any, *, device: str | torch.device = "cpu") -> Any:
    """A prior as given, or :func:`load_model` of a name or checkpoint path (what a pipeline
    that accepts either calls first)."""
    if isinstance(model_or_name, (str, os.PathLike)):
        return load_model(model_or_name, device=device)
    return model_or_name


def load_model(
    name_or_path: str | os.PathLike[str],
    *,
    expected: str | None = None,
    device: str | torch.device = "cpu",
) -> SpeechVAE:
    """Load a bundled model by name, or a checkpoint by path; returned in eval mode.

    ``expected`` (a model name) makes loading another model's checkpoint a
    :class:`~avgen.errors.CheckpointError`. ``"dkf"`` (or a DKF checkpoint) gives the
    temporal prior :class:`~avgen.models.dvae.dkf.DeepKalmanFilter`, an RVAE checkpoint the
    :class:`~avgen.models.dvae.rvae.RecurrentVAE`; the enhancement pipeline runs them like the
    others.
    """
    from avgen.runtime import check_device

    dev = check_device(device)
    key = os.fspath(name_or_path)
    if key in PRIOR_NAMES and not Path(key).exists():
        path = bundled_dir() / f"{key}.pt"
        if not path.is_file():
            how = (
                f"`python scripts/train_dkf.py --model {key} --kit KIT --dest DIR`"
                if key in TEMPORAL_MODEL_NAMES
                else f"`avgen train --model {key} --data DIR --out CKPT`"
            )
            raise CheckpointError(
                f"no bundled weights for {key!r} in this installation "
                f"({path}); train a model with {how} and load that file"
            )
        expected = expected or key
    else:
        path = Path(key)
        if not path.exists():
            raise CheckpointError(
                f"{key}: neither a model name ({', '.join(PRIOR_NAMES)}) nor a checkpoint file"
            )
    ckpt = load_checkpoint(path, expected_model=expected or list(PRIOR_NAMES))
    if ckpt.model in TEMPORAL_MODEL_NAMES:
        from avgen.models.dvae.train import temporal_from_checkpoint

        return temporal_from_checkpoint(ckpt, origin=str(path)).to(dev).eval()
    model = model_from_checkpoint(ckpt, origin=str(path))
    return model.to(dev).eval()


def slim_checkpoint(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Copy a training checkpoint without its resume state (last weights, optimiser): the best
    weights, config, manifest hash, history and metadata remain."""
    ckpt = load_checkpoint(src, expected_model=list(MODEL_NAMES))
    extra = {k: v for k, v in ckpt.extra.items() if k != "resume"}
    return save_checkpoint(
        dst,
        model=ckpt.model,
        config=ckpt.config,
        state_dict=ckpt.state_dict,
        data_manifest_hash=ckpt.data_manifest_hash,
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# Model cards
# ---------------------------------------------------------------------------------------------


def read_model_card(path: str | os.PathLike[str]) -> dict[str, str]:
    """The front-matter fields of a model card (empty if it has none)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def write_model_card(path: str | os.PathLike[str], fields: dict[str, Any], body: str = "") -> None:
    """Write a card: ``fields`` as front matter (one line each), then the Markdown ``body``."""
    front = "\n".join(f"{k}: {' '.join(str(v).split())}" for k, v in fields.items())
    write_text_atomic(path, f"---\n{front}\n---\n\n{body.strip()}\n")


def card_fields_from_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The card fields a checkpoint knows: model, epochs, best epoch, validation ELBO per
    frame, training time, seed, manifest hash, avgen version, model config, training config.
    Add ``data`` and ``data_licence`` yourself."""
    ckpt = load_checkpoint(path, expected_model=list(MODEL_NAMES))
    x = ckpt.extra
    seconds = float(x.get("training_seconds", float("nan")))
    return {
        "model": ckpt.model,
        "epochs": x.get("epochs_done"),
        "best_epoch": x.get("best_epoch"),
        "val_elbo_per_frame": f"{float(x.get('best_val_elbo', float('nan'))):.2f}",
        "training_time": f"{seconds / 60:.1f} min",
        "seed": x.get("seed"),
        "data_manifest_hash": ckpt.data_manifest_hash,
        "avgen_version": ckpt.avgen_version,
        "config": ckpt.config,
        "train_config": x.get("train_config"),
    }


@dataclass(frozen=True)
class BundledModel:
    """A model shipped inside the package."""

    name: str
    weights: Path
    card: Path | None
    fields: dict[str, str]
    size_bytes: int


def list_bundled(directory: str | os.PathLike[str] | None = None) -> list[BundledModel]:
    """The bundled models (``<name>.pt`` + ``<name>.md`` in :func:`bundled_dir`), in
    :data:`MODEL_NAMES` order; empty when none is bundled."""
    root = Path(directory) if directory is not None else bundled_dir()
    found = []
    for name in MODEL_NAMES:
        weights = root / f"{name}.pt"
        if not weights.is_file():
            continue
        card = root / f"{name}.md"
        found.append(
            BundledModel(
                name=name,
                weights=weights,
                card=card if card.is_file() else None,
                fields=read_model_card(card) if card.is_file() else {},
                size_bytes=weights.stat().st_size,
            )
        )
    return found


def format_bundled_table(models: list[BundledModel]) -> str:
    """A plain-text table of :func:`list_bundled`'s result, or a note that none is bundled."""
    if not models:
        return (
            "no VAE weights are bundled in this installation yet; train one with\n"
            "  avgen train --model a-vae --data DIR --out a-vae.pt\n"
            "and load it with avgen.models.load_model('a-vae.pt')"
        )
    header = ["model", "size"] + [title for _, title in CARD_COLUMNS]
    rows = [
        [m.name, f"{m.size_bytes / 1e6:.1f} MB"]
        + [m.fields.get(key, "-") if m.card else "(no card)" for key, _ in CARD_COLUMNS]
        for m in models
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
