"""The sampler contract: one step signature, a registry, seeded and batched runs, hooks."""

from __future__ import annotations

import inspect

import pytest
import torch
from diffusion_moments import random_gaussian

from inference.diffusion import (
    SAMPLERS,
    StepEvent,
    get_sampler,
    karras_sigmas,
    run_sampler,
)
from inference.errors import InferenceError, SamplerOptionError, UnknownSamplerError

SIGMAS = karras_sigmas(12, 0.002, 80.0)
STOCHASTIC_OPTIONS = {"heun": {"s_churn": 10.0}, "pc": {}, "ddim": {"eta": 1.0}}


def _start(seed: int, batch: int = 16, dim: int = 3) -> torch.Tensor:
    return 80.0 * torch.randn(batch, dim, generator=torch.Generator().manual_seed(seed))


def test_every_step_shares_one_signature():
    for sampler in SAMPLERS.values():
        params = list(inspect.signature(sampler.step).parameters.values())
        assert [p.name for p in params[:4]] == ["denoiser", "x", "sigma", "sigma_next"]
        kw = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert {"generator", "cond", "state"} <= kw, sampler.name


def test_unknown_sampler_names_the_choices():
    with pytest.raises(UnknownSamplerError, match="dpmpp_2m"):
        get_sampler("dpm++")


def test_unknown_sampler_option_is_rejected():
    with pytest.raises(SamplerOptionError, match="eta"):
        get_sampler("euler").step_options(10, eta=1.0)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("pc", {"snr": -1.0}, "snr"),
        ("pc", {"step_rule": "other"}, "step_rule"),
        ("pc", {"n_corrector": 0.5}, "n_corrector"),
        ("ddim", {"eta": -0.1}, "eta"),
        ("ddim", {"eta": "one"}, "eta"),
        ("heun", {"s_churn": -1.0}, "s_churn"),
        ("heun", {"s_noise": None}, "s_noise"),
    ],
)
def test_bad_option_values_are_rejected_before_sampling(name, options, message):
    """``step_options`` checks values, not only names, so a caller can validate a sampler's
    settings before the first denoiser call."""
    with pytest.raises(SamplerOptionError, match=message):
        get_sampler(name).step_options(10, **options)


def test_sampler_errors_are_inference_errors():
    assert issubclass(UnknownSamplerError, InferenceError)
    assert issubclass(SamplerOptionError, InferenceError)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_generator_seed_gives_the_same_samples(name):
    target = random_gaussian(3, seed=0)
    opts = STOCHASTIC_OPTIONS.get(name, {})
    a = get_sampler(name)(
        target, _start(1), SIGMAS, generator=torch.Generator().manual_seed(5), **opts
    )
    b = get_sampler(name)(
        target, _start(1), SIGMAS, generator=torch.Generator().manual_seed(5), **opts
    )
    assert torch.equal(a, b)
    if name in STOCHASTIC_OPTIONS:
        c = get_sampler(name)(
            target, _start(1), SIGMAS, generator=torch.Generator().manual_seed(6), **opts
        )
        assert not torch.allclose(a, c)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samples_keep_dtype_device_and_shape(name):
    target = random_gaussian(3, seed=0)
    x = _start(2).to(torch.float32)
    out = get_sampler(name)(
        target,
        x,
        SIGMAS,
        generator=torch.Generator().manual_seed(0),
        **STOCHASTIC_OPTIONS.get(name, {}),
    )
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert not out.requires_grad


def test_complex_state_is_sampled_as_its_real_pairs():
    """A complex tensor is the same computation as its real view (independent N(0,1) parts)."""

    def real_denoiser(x, sigma, cond=None):
        return x / (1.0 + sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2)

    def complex_denoiser(x, sigma, cond=None):
        return torch.view_as_complex(real_denoiser(torch.view_as_real(x), sigma).contiguous())

    z = torch.randn(4, 6, 2, generator=torch.Generator().manual_seed(0)) * 80.0
    for name in ("pc", "ddim"):
        opts = {"eta": 1.0} if name == "ddim" else {}
        real = get_sampler(name)(
            real_denoiser, z, SIGMAS, generator=torch.Generator().manual_seed(3), **opts
        )
        cplx = get_sampler(name)(
            complex_denoiser,
            torch.view_as_complex(z),
            SIGMAS,
            generator=torch.Generator().manual_seed(3),
            **opts,
        )
        torch.testing.assert_close(torch.view_as_real(cplx), real)


def test_autocast_is_a_no_op_off_cuda():
    target = random_gaussian(3, seed=0)
    a = get_sampler("heun")(target, _start(3), SIGMAS)
    b = get_sampler("heun")(target, _start(3), SIGMAS, autocast=True)
    assert torch.equal(a, b)


def test_cond_reaches_the_denoiser_and_sigma_is_a_batch_vector():
    seen = []

    def denoiser(x, sigma, cond=None):
        seen.append((cond, sigma.shape, sigma.dtype))
        return torch.zeros_like(x)

    get_sampler("dpmpp_2m")(denoiser, _start(0, batch=5), SIGMAS, cond="lips")
    assert seen and all(c == ("lips", (5,), torch.float32) for c in seen)


def test_callback_and_m_steps_see_every_step_in_order():
    target = random_gaussian(3, seed=0)
    events: list[StepEvent] = []
    calls = []

    def m_step(x0_hat, params, event):
        calls.append((event.index, params["count"]))
        assert torch.equal(x0_hat, event.info.x0_hat)
        return {**params, "count": params["count"] + 1}

    result = run_sampler(
        get_sampler("heun").step,
        target,
        _start(0),
        SIGMAS,
        params={"count": 0},
        m_steps=[m_step],
        callback=events.append,
    )
    n = len(SIGMAS) - 1
    assert [e.index for e in events] == list(range(n))
    assert [c for _, c in calls] == list(range(n))
    assert [e.params["count"] for e in events] == list(range(1, n + 1))
    assert result.params == {"count": n}
    assert events[-1].sigma_next == 0.0 and torch.equal(events[-1].x_next, result.x)
    assert result.n_evals == 2 * (n - 1) + 1  # Heun: two calls per step, one on the last


def test_a_bad_start_is_rejected():
    target = random_gaussian(3, seed=0)
    with pytest.raises(InferenceError, match="x_T"):
        get_sampler("euler")(target, torch.zeros(0, 3), SIGMAS)
    with pytest.raises(InferenceError, match="floating"):
        get_sampler("euler")(target, torch.zeros(2, 3, dtype=torch.long), SIGMAS)


@pytest.mark.parametrize("name", sorted(STOCHASTIC_OPTIONS))
def test_registry_step_options_reproduce_the_sample_function(name):
    target = random_gaussian(3, seed=0)
    spec = get_sampler(name)
    opts = STOCHASTIC_OPTIONS[name]
    a = spec(target, _start(4), SIGMAS, generator=torch.Generator().manual_seed(1), **opts)
    b = run_sampler(
        spec.step,
        target,
        _start(4),
        SIGMAS,
        generator=torch.Generator().manual_seed(1),
        options=spec.step_options(len(SIGMAS) - 1, **opts),
    ).x
    assert torch.equal(a, b)
