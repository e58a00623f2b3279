"""Speech sequences for the temporal priors: whole utterances of a kit split, cut into segments.

A DKF learns from ordered frames, so it takes each utterance's frames-major power ``(T_i, F)``
(VAE STFT: sine window 1024, hop 256, 513 bins) rather than the shuffled frames of the
per-frame priors; training batches fixed-length segments of them.
"""

from __future__ import annotations

import os

import torch

from avgen.errors import ConfigError, DataError


def load_kit_sequences(data: str | os.PathLike[str], split: str) -> list[torch.Tensor]:
    """The clean power ``(T_i, 513)`` of every utterance of a kit split, in manifest order."""
    from avgen.data import datasets

    dataset = datasets.FrameDataset(data, split, lip_size=8)
    return [
        dataset.power[dataset.frames_of(i)].contiguous() for i in range(len(dataset.utterances))
    ]


def segment_sequences(
    sequences: list[torch.Tensor] | torch.Tensor, length: int, hop: int | None = None
) -> torch.Tensor:
    """Segments of ``length`` frames every ``hop`` (default ``length``) frames of each sequence,
    ``(N, length, F)``; a sequence shorter than ``length`` gives none, and the tail of each
    sequence that does not fill a segment is dropped."""
    if length < 1 or (hop is not None and hop < 1):
        raise ConfigError(f"segment length and hop must be >= 1, got {length}, {hop}")
    hop = length if hop is None else hop
    if isinstance(sequences, torch.Tensor):
        sequences = list(sequences) if sequences.ndim == 3 else [sequences]
    pieces = [
        seq[start : start + length]
        for seq in sequences
        for start in range(0, seq.shape[0] - length + 1, hop)
    ]
    if not pieces:
        raise DataError(f"no sequence has {length} frames: shorten the segments")
    return torch.stack(pieces)
