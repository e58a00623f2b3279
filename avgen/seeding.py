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
    data build regenerates exactly the items it skipped.
    """
    entropy = [int(seed)] + [
        int.from_bytes(str(k).encode("utf-8"), "little") % (2**63) for k in keys
    ]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


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
