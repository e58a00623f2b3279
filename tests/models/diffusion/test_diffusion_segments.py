"""Training batches: a pure function of (seed, step, rank); shards; proportional sampling."""

from __future__ import annotations

import pytest
import torch

from avgen.errors import AudioError, ConfigError
from avgen.models.diffusion.segments import SpeechSegments, validation_segments
from avgen.models.diffusion.spectra import segment_samples


def _waves():
    gen = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(n, generator=gen) for n in (20_000, 5_000, 60_000, 3_000)]


def test_a_batch_is_a_function_of_the_step_alone():
    a = SpeechSegments(_waves(), 32, seed=1, batch_size=3)
    b = SpeechSegments(_waves(), 32, seed=1, batch_size=3)
    assert a.batch(5).shape == (3, 2, 256, 32)
    # any order of requests gives the same batches (what exact resumption needs)
    late_first = b.batch(7)
    assert torch.equal(a.batch(5), b.batch(5))
    assert torch.equal(a.batch(7), late_first)
    assert not torch.equal(a.batch(5), a.batch(6))
    other_seed = SpeechSegments(_waves(), 32, seed=2, batch_size=3)
    assert not torch.equal(a.batch(5), other_seed.batch(5))


def test_items_follow_utterance_length_and_an_epoch_visits_each_once():
    seg = SpeechSegments(_waves(), 32, seed=0, batch_size=2)
    length = segment_samples(32)
    expected = [max(1, round(n / length)) for n in (20_000, 5_000, 60_000, 3_000)]
    counts = [seg.owners.count(u) for u in range(4)]
    assert counts == expected
    seen = []
    for step in range(seg.batches_per_epoch):
        seen += seg.batch_items(step)[1]
    assert len(seen) == len(set(seen)) == seg.batches_per_epoch * 2


def test_ranks_draw_disjoint_shards_of_an_epoch():
    shards = [
        SpeechSegments(_waves(), 32, seed=0, batch_size=2, rank=r, world_size=2) for r in range(2)
    ]
    items = [set(), set()]
    for r, seg in enumerate(shards):
        for step in range(seg.batches_per_epoch):
            items[r] |= set(seg.batch_items(step)[1])
    assert items[0] and items[1] and not items[0] & items[1]


def test_a_data_set_smaller_than_a_batch_is_cycled():
    seg = SpeechSegments([0.1 * torch.randn(4000)], 32, seed=0, batch_size=5)
    assert seg.batch(0).shape == (5, 2, 256, 32)


def test_validation_segments_are_fixed_by_the_seed():
    waves = _waves()
    a = validation_segments(waves, 32, 6, seed=3)
    assert a.shape == (6, 2, 256, 32)
    assert torch.equal(a, validation_segments(waves, 32, 6, seed=3))


def test_empty_inputs_are_clear_errors():
    with pytest.raises(AudioError):
        SpeechSegments([], 32, seed=0, batch_size=2)
    with pytest.raises(ConfigError):
        SpeechSegments(_waves(), 32, seed=0, batch_size=0)
    with pytest.raises(AudioError):
        validation_segments([], 32, 2, seed=0)
