"""The diffusion tests run thousands of small tensor operations: one intra-op thread avoids
oversubscribing the shared cores (restored after each test)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
