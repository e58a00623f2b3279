"""Variational E-step: fine-tune an encoder on the ELBO with the decoder frozen (DVAE_SE's VEM).

The variational EM of Leglaive et al. (2020) and Bie et al. (2022, DVAE_SE) approximates
``p(z | x; theta_k)`` by the encoder's Gaussian ``q_phi(z_t) = N(mu_t, diag(sigma_t^2))`` and, at
every EM iteration, takes a few Adam steps on the encoder's weights ``phi`` to increase

    ELBO_t(phi) = E_q[log p(x_t, z_t; theta_k)] + H[q_phi(z_t)],
    H[N(mu, diag sigma^2)] = (1/2) sum_d (1 + log(2 pi) + log sigma_d^2),

with the expectation estimated by reparameterised draws ``z = mu + sigma * eps``. Only ``phi``
moves (gradients are taken with respect to the encoder's weights alone, so the decoder inside
``log_density_fn`` stays frozen). Writing the ELBO with the *joint* ``log p(x_t, z_t)`` rather than
"likelihood minus KL" means the very same per-frame ``log_density_fn`` serves the MCMC E-steps and
this one. After the updates, ``R`` draws from ``q`` are the samples handed to the M-step.

The state is explicit (:class:`~inference.esteps.EStepState` with a :class:`VEMState` in
``extra``): the fine-tuned weights ``phi`` and Adam's moments travel in it, and the encoder
module is only *called* with them (``torch.func.functional_call``), never changed. The user's
encoder therefore starts every recording from its trained weights, and a second E-step with
other settings (a lower learning rate, a final draw) can continue the same state.

Adam (Kingma & Ba, 2015), as ``torch.optim.Adam`` computes it (no weight decay)::

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
    phi <- phi - (lr / (1 - b1^k)) m / (sqrt(v) / sqrt(1 - b2^k) + eps)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call

from inference.errors import InferenceError
from inference.esteps import EStepResult, EStepState
from inference.mh import LogDensityFn

Weights = dict[str, torch.Tensor]


class VEMState(NamedTuple):
    """The fine-tuned encoder weights (only those that move) and Adam's moments and count."""

    weights: Weights
    first_moment: Weights
    second_moment: Weights
    n_updates: int


def adam_update(
    vem: VEMState, grads: Weights, lr: float, betas: tuple[float, float], eps: float
) -> VEMState:
    """One Adam step (module docstring) of ``vem.weights`` along ``grads``, the moments and the
    count updated; pure (new tensors, the old state untouched)."""
    b1, b2 = betas
    k = vem.n_updates + 1
    step = lr / (1 - b1**k)
    root2 = math.sqrt(1 - b2**k)
    weights, first, second = {}, {}, {}
    for name, w in vem.weights.items():
        g = grads[name]
        first[name] = torch.lerp(vem.first_moment[name], g, 1 - b1)
        second[name] = vem.second_moment[name].mul(b2).addcmul_(g, g, value=1 - b2)
        denominator = (second[name].sqrt() / root2).add_(eps)
        weights[name] = w.addcdiv(first[name], denominator, value=-step)
    return VEMState(weights, first, second, k)


def used_weights(encoder: nn.Module, weights: Weights, args: tuple) -> list[str]:
    """The names of ``weights`` that ``encoder(*args)``'s outputs depend on (one differentiated
    forward pass): what fine-tuning can move; the rest stays frozen."""
    probe = {name: w.clone().requires_grad_(True) for name, w in weights.items()}
    with torch.enable_grad():
        outputs = functional_call(encoder, probe, args)
        total = sum(o.sum() for o in outputs)
        if not isinstance(total, torch.Tensor) or not total.requires_grad:
            return []
        grads = torch.autograd.grad(total, list(probe.values()), allow_unused=True)
    return [name for name, g in zip(probe, grads) if g is not None]


def frame_terms(value: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """A log density per frame ``(..., T)``: the tensor itself, or the sum of a tuple of
    per-frame terms (e.g. a Markov prior's emission and transition terms)."""
    if isinstance(value, torch.Tensor):
        return value
    first, *rest = value
    return sum(rest, first)


class VariationalEStep:
    """Fine-tune ``encoder`` by Adam on the per-frame ELBO, then draw ``n_samples`` from ``q``.

    Args:
        encoder: ``encoder(encoder_input) -> (mean, log_variance)``, each ``(T, D)`` (or with
            leading dimensions matching the chains of the EM state).
        encoder_input: what the encoder reads (e.g. the observed power), fixed for the run.
        n_updates: Adam steps per E-step.
        lr: Adam learning rate.
        n_samples: ``R``, draws from ``q`` returned for the M-step.
        n_elbo_samples: reparameterised draws per ELBO estimate.
        trainable: names of the encoder's weights to fine-tune (``None``: those its output
            depends on, found by one differentiated forward pass in :meth:`init`).
        betas: Adam's moment decay rates.
        eps: Adam's denominator offset.
    """

    name = "vem"
    role = "encoder"  # what is fine-tuned, for messages

    def __init__(
        self,
        encoder: nn.Module,
        encoder_input: torch.Tensor,
        *,
        n_updates: int = 1,
        lr: float = 1e-3,
        n_samples: int = 10,
        n_elbo_samples: int = 1,
        trainable: list[str] | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if n_updates < 0 or n_samples < 1 or n_elbo_samples < 1 or lr <= 0:
            raise InferenceError(
                "need n_updates >= 0, n_samples >= 1, n_elbo_samples >= 1 and lr > 0"
            )
        self.encoder = encoder
        self.encoder_input = encoder_input
        self.n_updates = n_updates
        self.lr = lr
        self.n_samples = n_samples
        self.n_elbo_samples = n_elbo_samples
        self.trainable = trainable
        self.betas = betas
        self.eps = eps

    # ---------------------------------------------------------------------------- state
    def init(self, position: torch.Tensor | None = None) -> EStepState:
        """The encoder's current weights as the starting ``phi`` (those its output depends on,
        unless ``trainable`` names them), zero moments; the position is ``position``, or ``q``'s
        mean when none is given."""
        weights = {name: p.detach().clone() for name, p in self.encoder.named_parameters()}
        names = (
            self.trainable
            if self.trainable is not None
            else used_weights(self.encoder, weights, self._probe_args(position))
        )
        if not names:
            raise InferenceError(
                f"the {self.role} has no weights its output depends on to fine-tune"
            )
        weights = {name: weights[name] for name in names}
        zeros = {name: torch.zeros_like(w) for name, w in weights.items()}
        state = EStepState(position, None, VEMState(weights, zeros, dict(zeros), 0))
        return state if position is not None else state._replace(position=self.q(state)[0].detach())

    def _probe_args(self, position: torch.Tensor | None) -> tuple:
        """What the encoder is called with to find the weights its output depends on."""
        return (self.encoder_input,)

    def q(self, state: EStepState) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, log_variance)`` of ``q`` with the state's weights."""
        return functional_call(self.encoder, state.extra.weights, (self.encoder_input,))

    # ---------------------------------------------------------------------------- ELBO
    def _draw(
        self,
        mean: torch.Tensor,
        log_variance: torch.Tensor,
        n: int,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        noise = torch.randn(
            (n, *mean.shape), generator=generator, dtype=mean.dtype, device=mean.device
        )
        return mean + (0.5 * log_variance).exp() * noise

    def elbo(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-frame ELBO estimate ``(..., T)`` (differentiable in the state's weights)."""
        mean, log_variance = self.q(state)
        z = self._draw(mean, log_variance, self.n_elbo_samples, generator)
        expected = frame_terms(log_density_fn(z)).mean(0)
        entropy = 0.5 * (log_variance + 1.0 + math.log(2 * math.pi)).sum(-1)
        return expected + entropy

    def _adam(self, vem: VEMState, grads: Weights) -> VEMState:
        return adam_update(vem, grads, self.lr, self.betas, self.eps)

    # ---------------------------------------------------------------------------- step
    def step(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> tuple[EStepState, EStepResult]:
        vem = state.extra
        elbo = None
        for _ in range(self.n_updates):
            live = {name: w.detach().requires_grad_(True) for name, w in vem.weights.items()}
            with torch.enable_grad():
                elbo = self.elbo(
                    EStepState(state.position, None, vem._replace(weights=live)),
                    log_density_fn,
                    generator,
                )
                grads = torch.autograd.grad(-elbo.sum(), list(live.values()))
            with torch.no_grad():
                vem = self._adam(vem, dict(zip(live, grads)))
        new_state = EStepState(state.position, None, vem)
        with torch.no_grad():
            samples, mean = self.draws(new_state, generator)
        info = {"elbo": None if elbo is None else float(elbo.detach().sum())}
        return new_state._replace(position=mean), EStepResult(samples, mean, None, None, info)

    def draws(
        self, state: EStepState, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_samples`` draws from ``q`` for the M-step, and ``q``'s mean (the new position)."""
        mean, log_variance = self.q(state)
        return self._draw(mean, log_variance, self.n_samples, generator), mean

    def describe(self) -> str:
        return (
            f"variational (encoder fine-tuned by Adam, lr {self.lr:g}, {self.n_updates} "
            f"update(s) per E-step, {self.n_elbo_samples} draw(s) per ELBO), "
            f"{self.n_samples} draws from q per M-step"
        )


class StructuredVariationalEStep(VariationalEStep):
    """Variational E-step with a *structured* guide over a latent trajectory, for priors whose
    frames are coupled (the dynamical VAEs of Bie et al., 2022: DKF, RVAE), whose guide is
    sequential, ``q_phi(z) = prod_t q_phi(z_t | z_{0:t-1}, x)``, each factor Gaussian:

        ELBO(phi) = E_q[ log p(x, z; theta_k) - log q_phi(z) ]
                  ~ (1/S) sum_s sum_t [ l_t(z^s) - log q_phi(z^s_t | z^s_{0:t-1}, x) ],

    ``z^s`` drawn by reparameterisation through the guide (``z_t = m_t + s_t eps_t`` with
    ``m_t, s_t`` functions of the already drawn ``z_{0:t-1}``) and ``l_t`` the per-frame terms of
    the log joint (a tensor, or a tuple of terms that sum to it, e.g. a Markov prior's emission
    and transition). No closed-form entropy: ``log q`` is evaluated at the draws. Only the
    guide's weights move (Adam, as :class:`VariationalEStep`); ``R`` draws from ``q`` go to the
    M-step and the new position is the guide's mean path (every ``eps = 0``).

    Constructed as :class:`VariationalEStep`, with ``encoder`` the guide, called as
    ``encoder(encoder_input, eps) -> (z, log_q)``: ``eps`` ``(S, T, L)`` standard normal, ``z``
    ``(S, T, L)`` and ``log_q`` ``(S, T)`` (per frame), differentiable in its weights.
    """

    role = "guide"

    def _probe_args(self, position: torch.Tensor | None) -> tuple:
        """``(input, eps = 0)``: the guide's mean path; ``position`` (``(..., T, L)``, required:
        it gives the trajectory's shape, and is kept as the start)."""
        if position is None:
            raise InferenceError("a structured variational E-step needs the trajectory's shape")
        return (self.encoder_input, position.new_zeros(1, *position.shape[-2:]))

    def run_guide(self, state: EStepState, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, log_q)`` of the guide with the state's weights for the noise ``eps``."""
        return functional_call(self.encoder, state.extra.weights, (self.encoder_input, eps))

    def _noise(
        self, n: int, position: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``(n, T, L)`` standard normal draws, ``(T, L)`` the trajectory's shape."""
        shape = (n, *position.shape[-2:])
        return torch.randn(shape, generator=generator, dtype=position.dtype, device=position.device)

    def elbo(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-frame ELBO estimate ``(T,)``: ``mean_s [l_t(z^s) - log q(z^s_t | ...)]``."""
        z, log_q = self.run_guide(
            state, self._noise(self.n_elbo_samples, state.position, generator)
        )
        return (frame_terms(log_density_fn(z)) - log_q).mean(0)

    def draws(
        self, state: EStepState, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``R`` trajectories from ``q`` and the guide's mean path ``(T, L)``."""
        samples, _ = self.run_guide(state, self._noise(self.n_samples, state.position, generator))
        mean, _ = self.run_guide(state, state.position.new_zeros(1, *state.position.shape[-2:]))
        return samples, mean[0]

    def describe(self) -> str:
        text = super().describe()
        return text.replace("variational (encoder", "variational (structured guide", 1)
