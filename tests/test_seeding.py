"""Derived seeds: stable, and different for every different key."""

from __future__ import annotations

from avgen.seeding import derive_seed


def test_short_keys_keep_the_seeds_they_always_had():
    assert derive_seed(0, "noise", "babble") == 8557713655524198245


def test_long_keys_that_share_their_first_eight_bytes_give_different_seeds():
    seeds = {derive_seed(0, "video", f"video-{i:03d}") for i in range(10, 20)}
    assert len(seeds) == 10
    assert derive_seed(0, "example", "video-025-c0") != derive_seed(0, "example", "video-025-c1")


def test_the_same_keys_give_the_same_seed_and_the_order_matters():
    assert derive_seed(3, "a", "long-key-number-1") == derive_seed(3, "a", "long-key-number-1")
    assert derive_seed(3, "a", "b") != derive_seed(3, "b", "a")
