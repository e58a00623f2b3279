"""Shared test configuration: deterministic, quiet, and light on the 2 CPU cores."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("AVGEN_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
# One intra-op thread: on 2 shared cores, spinning OpenMP threads slow small ops down badly.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic_torch():
    """Each test starts from the same global seed (tests that need more pass their own)."""
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_kit(tmp_path_factory):
    """A real ``tiny`` data kit (12 utterances, noise bank, val/test mixtures), built once per
    test session by ``avgen.data.kit.build.build_kit`` (about 15 s)."""
    from avgen.data.kit.build import BuildOptions, build_kit

    return build_kit(tmp_path_factory.mktemp("kits") / "tiny", BuildOptions(size="tiny", seed=0))


@pytest.fixture(scope="session")
def tiny_room_kit(tiny_kit, tmp_path_factory):
    """A room kit of 3 rooms x 2 viewpoints with 128-pixel pictures (the scene encoders' size)
    on the ``tiny`` speech kit, built once per test session (a few seconds)."""
    from avgen.data.rooms.kit import RoomKitOptions, build_room_kit

    options = RoomKitOptions(
        rooms=3, viewpoints_per_room=2, train_items_per_viewpoint=2, picture_size=128, seed=5
    )
    return build_room_kit(tmp_path_factory.mktemp("rooms") / "kit128", tiny_kit, options)
