"""The ambience evaluator: embeddings and ambience types of clips from the encoder trained on the
noise bank (:mod:`avgen.models.scene.ambience_encoder`).

No pretrained FAD embedding (VGGish, PANNs, CLAP) can be had offline -- their packages download
the weights at run time -- so the embedding space of the stylization metrics is that of a small
conv net trained here, from scratch, as an ambience-type classifier over *all* noise types of the
bank, seen and unseen (it is the yardstick, not the model under test). Its bundled weights and
their held-out accuracy: ``avgen/assets/stylize/ambience-encoder.md``.

Functions take the encoder as an argument (``None``: load the bundled one; pass one loaded
encoder when scoring many clips, loading costs a few milliseconds but is repeated otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from avgen.models.scene.ambience_encoder import (
    AmbienceEncoder,
    bundled_ambience_encoder,
    load_ambience_encoder,
)


def ambience_encoder(path: str | os.PathLike[str] | None = None) -> AmbienceEncoder:
    """The encoder saved at ``path``, or the bundled one when ``None``."""
    return bundled_ambience_encoder() if path is None else load_ambience_encoder(path)


def ambience_embeddings(
    waves: Sequence[Any], encoder: AmbienceEncoder | None = None, *, patches: bool = False
) -> torch.Tensor:
    """Clip embeddings ``(N, D)`` (the mean over each clip's patches) of 16 kHz clips, or with
    ``patches`` every patch embedding of every clip stacked ``(sum P_i, D)`` (the FAD way)."""
    enc = encoder or bundled_ambience_encoder()
    if patches:
        return torch.cat([enc.embed_patches(w) for w in waves])
    return torch.stack([enc.embed(w) for w in waves])


def classify_ambience(waves: Sequence[Any], encoder: AmbienceEncoder | None = None) -> list[str]:
    """The most probable ambience type of each clip (types of ``encoder.config.classes``)."""
    enc = encoder or bundled_ambience_encoder()
    return [enc.classify(w) for w in waves]
