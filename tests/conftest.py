"""Shared test configuration: deterministic, quiet, and light on the 2 CPU cores."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("AVGEN_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _deterministic_torch():
    """Each test starts from the same global seed (tests that need more pass their own)."""
    torch.manual_seed(0)
    yield
