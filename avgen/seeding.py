"""Seeds and generators: every public entry point takes a ``seed`` (or a generator).

Same seed, same numbers: functions draw from an explicit :class:`torch.Generator` or
:class:`numpy.random.Generator` made here, never from global state, except
:func:`seed_everything`, which training loops call because Pyro and ``nn.Module`` initialisers
draw from the global torch generator.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def numpy_generator(seed: int | np.random.SeedSequence) -> np.random.Generator:
    """A numpy ``Generator`` (PCG64) seeded with ``seed``."""
    return np.random.default_rng(seed)


def derive_seed(seed: int, *keys: object) -> int:
    """A child seed for a named sub-task, stable across runs and processes.

    ``derive_seed(0, "noise", "babble")`` always gives the same 63-bit integer, so a resumed
    data build regenerates exactly the items it skipped. Every byte of every key counts: a key
    enters :class:`numpy.random.SeedSequence` as the integer of its UTF-8 bytes (whole; only
    keys of up to 8 bytes are reduced modulo 2**63, as before, so their seeds are unchanged).
    Until 2026-12 longer keys were reduced too, which kept only their first 8 bytes: ids such
    as ``video-012`` and ``video-017`` then gave the same seed.
    """
    return int(np.random.SeedSequence(_entropy(seed, keys)).generate_state(1, np.uint64)[0] >> 1)


def _key_entropy(key: object) -> int:
    data = str(key).encode("utf-8")
    value = int.from_bytes(data, "little")
    return value % (2**63) if len(data) <= 8 else value


def _entropy(seed: int, keys: tuple[object, ...]) -> list[int]:
    return [int(seed)] + [_key_entropy(k) for k in keys]


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's legacy, torch's and Pyro's global generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - the legacy global is what we seed
    torch.manual_seed(seed)
    try:
        import pyro

        pyro.set_rng_seed(seed)
    except ImportError:  # pragma: no cover - pyro is a dependency
        pass
