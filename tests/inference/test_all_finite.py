"""``all_finite`` answers exactly as ``torch.isfinite(x).all()`` does, including the cases where
its fast path (one sum) cannot decide: finite entries whose sum overflows."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.finite import all_finite

specials = st.sampled_from([math.nan, math.inf, -math.inf, 3e38, -3e38, 0.0, 1.0, -1e-30])
floats = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True), specials)


@settings(max_examples=300, deadline=None)
@given(st.lists(floats, min_size=0, max_size=40), st.sampled_from([torch.float32, torch.float64]))
def test_agrees_with_the_elementwise_test(values, dtype):
    x = torch.tensor(values, dtype=dtype)
    assert all_finite(x) == bool(torch.isfinite(x).all())


def test_finite_entries_whose_sum_overflows_are_finite():
    x = torch.full((4,), 3e38, dtype=torch.float32)
    assert not torch.isfinite(x.sum())
    assert all_finite(x)


def test_one_nan_or_infinity_in_a_large_array_is_found():
    for bad in (math.nan, math.inf, -math.inf):
        x = torch.rand(10, 240, 513)
        x[3, 100, 7] = bad
        assert not all_finite(x)
    assert all_finite(torch.rand(10, 240, 513))


def test_complex_and_empty_tensors():
    z = torch.randn(5, 3, dtype=torch.complex64)
    assert all_finite(z)
    z[1, 1] = complex(math.nan, 0.0)
    assert not all_finite(z)
    assert all_finite(torch.empty(0))
