"""Fixtures of the enhancement tests."""

from __future__ import annotations

import pytest

from .helpers import MODEL_NAMES, tiny_model


@pytest.fixture(scope="session")
def tiny_models():
    """One tiny, randomly initialised prior of each kind (with speech-like decoders)."""
    return {name: tiny_model(name) for name in MODEL_NAMES}
