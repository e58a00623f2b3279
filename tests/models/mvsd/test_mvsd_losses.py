"""The cycle loss of an exact inverse pair is zero; the style loss is an L1 distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from avgen.models.mvsd.losses import cycle_loss, style_loss

# A minimum-phase "room": three first-order factors (1 + a z^-1), |a| < 1, so its inverse
# 1 / H(z) is a stable causal IIR filter and the pair is an exact inverse.
ZEROS = (0.9, -0.7, 0.5)


def rir() -> np.ndarray:
    h = np.array([1.0])
    for a in ZEROS:
        h = np.convolve(h, [1.0, a])
    return h


def convolve_rir(x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(lfilter(rir(), [1.0], x.numpy(), axis=-1))


def inverse_filter(y: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(lfilter([1.0], rir(), y.numpy(), axis=-1))


def test_cycle_loss_is_zero_for_an_exact_inverse_pair():
    x = torch.randn(3, 4000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(cycle_loss(convolve_rir, inverse_filter, x)) < 1e-12
    assert float(cycle_loss(inverse_filter, convolve_rir, x)) < 1e-12
    # a pair that is not inverse is caught
    assert float(cycle_loss(convolve_rir, convolve_rir, x)) > 0.1


def test_cycle_loss_of_identities_and_gradients():
    x = torch.randn(2, 2, 8, 4, requires_grad=True)
    assert float(cycle_loss(lambda t: t, lambda t: t, x.detach())) == 0.0
    scale = torch.tensor(2.0, requires_grad=True)
    loss = cycle_loss(lambda t: scale * t, lambda t: t / 3.0, x.detach())
    loss.backward()
    assert scale.grad is not None and float(scale.grad) != 0.0


def test_style_loss_is_mean_absolute_error():
    a, b = torch.zeros(2, 2, 4, 4), torch.full((2, 2, 4, 4), 0.5)
    assert float(style_loss(a, b)) == pytest.approx(0.5)
