"""Geweke (2004) joint-distribution tests of the MH E-step with a random decoder.

Observation model, simulated in full: ``z_t ~ N(0, I_2)``, ``s_ft | z_t ~ N_c(0, exp(dec(z_t))_f)``,
``b_ft ~ N_c(0, c_ft)``, ``x_ft = sqrt(g_t) s_ft + b_ft`` with a random tanh decoder (2 -> 16 -> 8),
random gains ``g`` and a random fixed variance ``c``. The successive-conditional simulator
alternates ``x ~ p(x | z)`` and 5 kernel steps on ``z | x`` targeting the fused density
``GaussianScaleLogDensity``, for 25 rounds, over 2,000 frames that are independent replicates.
A kernel that leaves ``p(z | x)`` invariant keeps ``z`` exactly N(0, I): the final ``z`` is
compared with 2,000 fresh prior draws by two-sample KS tests on ``z_d``, ``z_d^2`` and ``|z|^2``
(5 tests, Bonferroni at ``alpha = 1e-3``: the probability that a correct kernel fails is at most
``1e-3``). Deliberately broken kernels (target without the prior term; MALA without the
Hastings correction) must fail, which shows the test has power.
"""

from __future__ import annotations

import pytest
import torch

from inference.chain import MALA, RWM, Kernel, run_chain
from inference.diagnostics import geweke_test
from inference.gaussian_scale import GaussianScaleLogDensity
from inference.mh import MALAState, MHInfo, mala_init, value_and_grad
from tests.inference.inference_models import complex_normal, make_decoder

N_FRAMES, F, D = 2000, 8, 2
N_ROUNDS, STEPS_PER_ROUND = 25, 5
ALPHA = 1e-3


@torch.no_grad()
def mala_step_without_hastings_correction(state, log_density_fn, step_size, generator=None):
    """BROKEN on purpose: MALA's proposal accepted with min(1, pi(z')/pi(z)) only."""
    noise = torch.randn(state.position.shape, generator=generator, dtype=state.position.dtype)
    proposal = state.position + 0.5 * step_size**2 * state.grad + step_size * noise
    log_density, grad = value_and_grad(log_density_fn, proposal)
    log_ratio = log_density - state.log_density
    uniform = torch.rand(log_ratio.shape, generator=generator, dtype=log_ratio.dtype)
    accept = uniform.log() < log_ratio
    keep = accept.unsqueeze(-1)
    new = MALAState(
        torch.where(keep, proposal, state.position),
        torch.where(accept, log_density, state.log_density),
        torch.where(keep, grad, state.grad),
    )
    return new, MHInfo(log_ratio.clamp(max=0).exp(), accept, proposal)


@pytest.fixture(autouse=True)
def _flush_denormals():
    """Broken kernels let z drift to where tanh's internals underflow into denormal floats, which
    are ~20x slower on CPUs; flushing them to zero keeps the failing runs as cheap as the others."""
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)  # torch's default


BROKEN_MALA = Kernel("mala-no-hastings", mala_init, mala_step_without_hastings_correction, 0.6)


class ObservationModel:
    """``x = sqrt(g) s + b`` with a random decoder; draws |x|^2 given z."""

    def __init__(self, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.decoder = make_decoder(D, F, hidden=16, seed=seed, scale=2.0)
        self.gain = torch.rand(N_FRAMES, generator=gen) + 0.5
        self.fixed = 0.5 * (torch.rand(N_FRAMES, F, generator=gen) + 0.2)

    def sample_prior(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, D, generator=generator)

    def sample_power(self, z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        source = complex_normal(self.decoder(z).exp(), generator)
        noise = complex_normal(self.fixed, generator)
        x = self.gain.sqrt().unsqueeze(-1) * source + noise
        return x.abs().square()

    def transition(self, kernel: Kernel, step_size: float, drop_prior: bool = False):
        def move(z: torch.Tensor, power: torch.Tensor, generator: torch.Generator):
            density = GaussianScaleLogDensity(power, self.decoder, self.fixed, self.gain)
            if drop_prior:  # BROKEN on purpose: the likelihood alone as the target

                def target(zz):
                    return density(zz) + 0.5 * zz.square().sum(-1)
            else:
                target = density
            return run_chain(
                kernel, z, target, n_steps=STEPS_PER_ROUND, step_size=step_size, generator=generator
            ).state.position

        return move


def run_geweke(kernel: Kernel, step_size: float, drop_prior: bool = False, seed: int = 0):
    model = ObservationModel(seed)
    return geweke_test(
        model.sample_prior,
        model.sample_power,
        model.transition(kernel, step_size, drop_prior),
        n_replicates=N_FRAMES,
        n_iter=N_ROUNDS,
        generator=torch.Generator().manual_seed(100 + seed),
        alpha=ALPHA,
    )


@pytest.mark.parametrize("kernel", [RWM, MALA], ids=["rwm", "mala"])
def test_correct_kernels_keep_the_prior_invariant(kernel):
    run = run_geweke(kernel, step_size=0.5)
    assert run.latents.shape == (N_FRAMES, D)
    assert run.result.passed, str(run.result)


@pytest.mark.parametrize("kernel", [RWM, MALA], ids=["rwm", "mala"])
def test_a_kernel_whose_target_lacks_the_prior_term_fails(kernel):
    run = run_geweke(kernel, step_size=0.5, drop_prior=True)
    assert not run.result.passed, str(run.result)


def test_mala_without_the_hastings_correction_fails():
    run = run_geweke(BROKEN_MALA, step_size=0.8)
    assert not run.result.passed, str(run.result)
