"""Inference tests run torch single-threaded.

The tests use small tensors, where a second intra-op thread gains nothing, and the test machine's
2 cores are shared by parallel jobs: with 2 threads, OpenMP barriers spinning against other
processes made an MCEM test 6x slower (4.1 s vs 0.66 s measured). The setting is restored after
each test.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
