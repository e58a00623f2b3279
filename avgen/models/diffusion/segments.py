"""Training batches of clean-speech segments, a pure function of ``(seed, step, rank)``.

Items: each utterance of ``n`` samples contributes ``max(1, round(n / L))`` items, ``L`` the
segment length in samples, so long utterances are seen in proportion to their length. An epoch is
a permutation of the items by :class:`torch.utils.data.DistributedSampler` (shuffled with the
seed, one shard per rank, equal shard sizes); item ``i`` of epoch ``e`` is a uniform random crop
of its utterance drawn with a generator seeded by ``(seed, e, i)``, zero-padded when the
utterance is shorter than a segment. Batch ``s`` of a rank is the ``s mod S``-th run of
``batch_size`` items of epoch ``s div S`` (``S`` batches per epoch, the last partial run dropped).
Since every batch is a function of the step alone, a resumed run sees exactly the batches an
uninterrupted run would have seen. The STFT is taken per batch (waveforms are kept, not
spectrograms: 2 h of speech is 0.46 GB as float32 samples but 1.8 GB as compressed STFTs).
"""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler

from avgen.audio import DIFFUSION_STFT, StftConfig
from avgen.errors import AudioError, ConfigError
from avgen.models.diffusion.spectra import crop_or_pad, segment_samples, waveform_to_tensor
from avgen.seeding import derive_seed, torch_generator


class SpeechSegments:
    """Random fixed-length segments of a list of waveforms, batched per training step."""

    def __init__(
        self,
        waveforms: list[torch.Tensor],
        segment_frames: int,
        *,
        seed: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        config: StftConfig = DIFFUSION_STFT,
    ) -> None:
        if not waveforms:
            raise AudioError("no training waveforms given")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.waveforms = [w.reshape(-1).to(torch.float32) for w in waveforms]
        self.segment_frames = int(segment_frames)
        self.segment_length = segment_samples(self.segment_frames, config)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.config = config
        owners: list[int] = []
        for u, w in enumerate(self.waveforms):
            owners += [u] * max(1, round(w.shape[-1] / self.segment_length))
        # A data set smaller than one batch per rank is cycled so that every rank fills a batch.
        need = self.batch_size * world_size
        while len(owners) < need:
            owners += owners[: need - len(owners)]
        self.owners = owners
        self.sampler = DistributedSampler(
            range(len(owners)),
            num_replicas=world_size,
            rank=rank,
            shuffle=True,
            seed=self.seed,
            drop_last=True,
        )
        self.batches_per_epoch = len(self.sampler) // self.batch_size
        self._epoch_cache: tuple[int, list[int]] | None = None

    def __len__(self) -> int:
        """Number of items (segments per epoch over all ranks)."""
        return len(self.owners)

    def _epoch_order(self, epoch: int) -> list[int]:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            self.sampler.set_epoch(epoch)
            self._epoch_cache = (epoch, list(self.sampler))
        return self._epoch_cache[1]

    def crop(self, item: int, epoch: int) -> torch.Tensor:
        """The waveform segment of ``item`` in ``epoch`` (``segment_length`` samples)."""
        wav = self.waveforms[self.owners[item]]
        room = max(wav.shape[-1] - self.segment_length, 0)
        gen = torch_generator(derive_seed(self.seed, "crop", epoch, item))
        start = int(torch.randint(room + 1, (1,), generator=gen))
        return crop_or_pad(wav, self.segment_length, start)

    def batch_items(self, step: int) -> tuple[int, list[int]]:
        """``(epoch, items)`` of the batch of training step ``step`` on this rank."""
        epoch, offset = divmod(int(step), self.batches_per_epoch)
        order = self._epoch_order(epoch)
        return epoch, order[offset * self.batch_size : (offset + 1) * self.batch_size]

    def batch(self, step: int) -> torch.Tensor:
        """The ``(batch_size, 2, F, segment_frames)`` compressed-STFT batch of step ``step``."""
        epoch, items = self.batch_items(step)
        wavs = torch.stack([self.crop(i, epoch) for i in items])
        return waveform_to_tensor(wavs, self.config)


def validation_segments(
    waveforms: list[torch.Tensor],
    segment_frames: int,
    n: int,
    *,
    seed: int,
    config: StftConfig = DIFFUSION_STFT,
) -> torch.Tensor:
    """A fixed validation set: up to ``n`` segments, cycling over the utterances, each a crop at
    a start drawn once from ``seed`` (so every evaluation sees the same data)."""
    if not waveforms:
        raise AudioError("no validation waveforms given")
    length = segment_samples(segment_frames, config)
    gen = torch_generator(derive_seed(seed, "validation"))
    segs = []
    for k in range(n):
        wav = waveforms[k % len(waveforms)].reshape(-1).to(torch.float32)
        room = max(wav.shape[-1] - length, 0)
        start = int(torch.randint(room + 1, (1,), generator=gen))
        segs.append(crop_or_pad(wav, length, start))
    return waveform_to_tensor(torch.stack(segs), config)
