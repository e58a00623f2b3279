"""The inference schemes of unsupervised enhancement and their schedule.

A scheme is an E-step of :mod:`inference` plugged into the one Monte-Carlo / variational EM
driver (:func:`inference.em.run_em` through :class:`~inference.nmf_em.GaussianScaleNMF`):

=============  ===================================================================================
``mcem-mh``    random-walk Metropolis-Hastings per frame (Leglaive et al. 2018; Sadeghi et al.
               2020): ``z' = z + eps xi``, ``eps^2`` = the proposal variance (0.01)
``mcem-mala``  Metropolis-adjusted Langevin per frame (Roberts & Tweedie 1996); the step size is
               adapted per frame by dual averaging during each burn-in (target acceptance 0.574)
``langevin``   unadjusted Langevin dynamics, no accept/reject ("LDEM"); biased by O(eps^2)
``vem``        variational EM (Leglaive et al. 2020; Bie et al. 2022, DVAE_SE): the encoder's
               Gaussian is fine-tuned on the ELBO by Adam (30 steps at lr 1e-4 per E-step),
               the decoder frozen; for a temporal prior (DKF, RVAE) its sequential guide over
               the whole trajectory (one step per E-step, :data:`VEM_UPDATES`)
=============  ===================================================================================

:class:`EMSchedule` holds every number; its defaults are the papers' (100 EM iterations, R = 10
samples per E-step, proposal variance 0.01, and a final MH run of the same length at the last
parameters for the estimate) except three: NMF rank K = 4, not 10 (on real held-out mixtures
rank 10 let the noise model fit the speech: MH lost the noisy ESTOI on a TV mixture, 0.796 ->
0.740; rank 4 gave 0.832 and raised the six-mixture mean ESTOI of every scheme); random-walk
MH's 20 steps per E-step of which 10 burn-in, not 40 of which 30 (:data:`SAMPLER_STEPS`: the
chains continue from the previous E-step's position, so the papers' 30 burn-in steps re-burn
chains already near their target: the same R = 10 samples in two thirds of the time, and no
loss on 51 held-out real mixtures; MALA keeps the papers' 40/30, its per-frame step adapts in
burn-in and 10 steps are too few; docs/enhancement.md, "Speed of the default"); and
variational EM's 30 Adam steps at lr 1e-4 per E-step (docs/enhancement.md, "Why variational EM
collapsed").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from avgen.errors import ConfigError
from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, Kernel
from inference.esteps import ChainEStep, EStep, LangevinEStep, MHEStep
from inference.nmf_priors import ARDPrior, NMFPrior, SmoothPrior
from inference.vem import StructuredVariationalEStep, VariationalEStep

SCHEMES = ("mcem-mh", "mcem-mala", "langevin", "vem")

VEM_UPDATES: Mapping[str, int] = MappingProxyType({"per-frame": 30, "trajectory": 1})
"""Adam steps per variational E-step by default: 30 at lr 1e-4 for a per-frame encoder (below);
one for a temporal prior's sequential guide, as DVAE_SE's VEM (Bie et al. 2022: one encoder
update per EM iteration), whose every step runs the guide frame by frame (on 6 held-out real
mixtures the DKF gave the same SI-SDR and ESTOI with 1 or 3 steps at lr 1e-4, and lost the
noisy ESTOI on one mixture at lr 3e-4; docs/enhancement.md)."""
SCHEME_ALIASES = {
    "mh": "mcem-mh",
    "mala": "mcem-mala",
    "langevin-em": "langevin",
    "ldem": "langevin",
}

PAPERS_STEPS = (40, 30)
"""The papers' sampler steps per E-step and burn-in (R = 10 retained)."""

SAMPLER_STEPS: Mapping[str, tuple[int, int]] = MappingProxyType({"mcem-mh": (20, 10)})
"""Default ``(steps, burn-in)`` per scheme where it is not :data:`PAPERS_STEPS` (module
docstring); a user's kernel gets the papers'."""


NMF_PRIORS = ("none", "ard", "smooth", "smooth-h")
"""Priors on the NMF noise model (:mod:`inference.nmf_priors`): none (maximum likelihood),
``ard`` (automatic relevance determination, Tan & Févotte 2013: start from a generous rank,
the components the recording does not need are pruned), ``smooth`` (inverse-gamma Markov
chains on the activations, Févotte, Bertin & Durrieu 2009, MAP of ``log H``: scale-free) and
``smooth-h`` (the same chains, the paper's MAP of ``H``, whose density pulls the activations
towards zero)."""
ARD_START_RANK = 16
"""The rank ARD starts from when the user names none (``avgen enhance --nmf-prior ard``)."""


def canonical_scheme(name: str) -> str:
    """A scheme name or alias -> its canonical name (ConfigError for anything else)."""
    key = SCHEME_ALIASES.get(name, name)
    if key not in SCHEMES:
        raise ConfigError(f"unknown scheme {name!r}; choose one of {', '.join(SCHEMES)}")
    return key


def _usable_step(step: float) -> bool:
    """A step size the samplers can use in float32: finite and not underflowing (>= 1e-30)."""
    return math.isfinite(step) and step >= 1e-30


@dataclass(frozen=True)
class EMSchedule:
    """Every number of an enhancement run (the papers' values by default, but for the rank, MH's
    burn-in and VEM's steps: module docstring). ``EMSchedule(n_steps=40, burn_in=30)`` is the
    papers' E-step for every scheme.

    Attributes:
        rank: NMF rank ``K`` of the noise variance ``W H`` (4; the papers' 10 fits speech too).
        n_iter: EM iterations.
        n_steps: sampler steps per E-step (VEM: Adam updates are ``vem_updates``); ``None``:
            the scheme's default (:data:`SAMPLER_STEPS`, else :data:`PAPERS_STEPS`), read
            with :meth:`steps_for`.
        burn_in: of which discarded; ``R = n_steps - burn_in`` samples go to the M-step
            (``None``: the scheme's default).
        proposal_variance: random-walk MH proposal variance ``eps^2``.
        mala_step_size: MALA's initial step size (adapted per frame during burn-in).
        mala_target: MALA's target acceptance for the adaptation.
        langevin_step_size: Langevin's (constant) step size.
        vem_updates, vem_lr: Adam steps per E-step and learning rate of variational EM
            (``None``: :data:`VEM_UPDATES`, 30 small steps for a per-frame encoder, one for a
            temporal prior's sequential guide; lr 1e-4: ``q`` must follow the NMF's fast
            multiplicative updates, or the noise model absorbs the speech first -- one step at
            1e-3 collapsed on real city noise, ten at 1e-3 drift; docs/enhancement.md).
        final_steps, final_burn_in: the final sampler run for the estimate (``None``: as
            ``n_steps``/``burn_in``).
        exponent: multiplicative-update exponent (0.5: majorise-minimise, never increases the
            IS divergence; 1: the faster heuristic).
        tol: stop early when the relative change of the objective falls below it (``None``:
            run all ``n_iter`` iterations, as the papers).
        chains: independent chains per frame (samples pooled).
        mh_adapt: ``mcem-mh`` only: adapt each frame's random-walk step by dual averaging in
            every burn-in towards this acceptance rate (e.g. 0.3), starting from
            ``sqrt(proposal_variance)`` (``None``: the papers' fixed step).
        switch_at: the ``"switch"`` start (MIN-VAE): the E-step at which every frame's chains
            are re-started at the audio or visual encoder's mean by its responsibility under
            the noise model of that iteration (:mod:`avgen.pipelines.vae_nmf.switch`).
        nmf_prior: ``"none"`` (maximum likelihood, the papers'), ``"ard"``, ``"smooth"`` or
            ``"smooth-h"``
            (:data:`NMF_PRIORS`, :func:`make_nmf_prior`); with ``"ard"`` ``rank`` is the rank it
            starts from (give a generous one, e.g. :data:`ARD_START_RANK`).
        nmf_prior_shape: the prior's shape (ARD's inverse-gamma ``a``, default 5; the smooth
            chain's ``alpha``, default 50); ``None``: the default.
    """

    rank: int = 4
    n_iter: int = 100
    n_steps: int | None = None
    burn_in: int | None = None
    proposal_variance: float = 0.01
    mala_step_size: float = 0.1
    mala_target: float = 0.574
    langevin_step_size: float = 0.02
    vem_updates: int | None = None
    vem_lr: float = 1e-4
    final_steps: int | None = None
    final_burn_in: int | None = None
    exponent: float = 0.5
    tol: float | None = None
    chains: int = 1
    mh_adapt: float | None = None
    switch_at: int = 10
    nmf_prior: str = "none"
    nmf_prior_shape: float | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.rank >= 1, "rank must be >= 1"),
            (self.n_iter >= 1, "n_iter must be >= 1"),
            (self.n_steps is None or self.n_steps >= 1, "n_steps must be >= 1"),
            (self.burn_in is None or self.burn_in >= 0, "burn_in must be >= 0"),
            (
                self.n_steps is None or self.burn_in is None or self.burn_in < self.n_steps,
                "need 0 <= burn_in < n_steps",
            ),
            (
                _usable_step(
                    math.sqrt(self.proposal_variance) if self.proposal_variance > 0 else 0
                ),
                "proposal_variance must be finite and at least 1e-60 (its square root is the step)",
            ),
            (
                _usable_step(self.mala_step_size) and _usable_step(self.langevin_step_size),
                "step sizes must be finite and at least 1e-30",
            ),
            (0 < self.mala_target < 1, "mala_target must be in (0, 1)"),
            (
                (self.vem_updates is None or self.vem_updates >= 0) and self.vem_lr > 0,
                "need vem_updates >= 0, vem_lr > 0",
            ),
            (self.final_steps is None or self.final_steps >= 1, "final_steps must be >= 1"),
            (self.final_burn_in is None or self.final_burn_in >= 0, "final_burn_in must be >= 0"),
            (self.exponent > 0, "exponent must be > 0"),
            (self.tol is None or self.tol >= 0, "tol must be >= 0"),
            (self.chains >= 1, "chains must be >= 1"),
            (self.mh_adapt is None or 0 < self.mh_adapt < 1, "mh_adapt must be in (0, 1)"),
            (self.switch_at >= 0, "switch_at must be >= 0"),
            (self.nmf_prior in NMF_PRIORS, f"nmf_prior must be one of {', '.join(NMF_PRIORS)}"),
            (
                self.nmf_prior_shape is None
                or self.nmf_prior_shape > (2 if self.nmf_prior == "ard" else 0),
                "nmf_prior_shape must be > 2 for ard, > 0 for smooth",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"schedule: {message}")

    def steps_for(
        self, scheme: str | None, *, final: bool = False, label: str | None = None
    ) -> tuple[int, int]:
        """``(steps, burn-in)`` of ``scheme``'s E-steps (``final``: of its final run; ``None``:
        a user's kernel or a Markov prior's checkerboard MH): the given numbers, else the
        scheme's defaults (:data:`SAMPLER_STEPS`, :data:`PAPERS_STEPS`); :class:`ConfigError`
        naming ``label`` (default: the scheme) if they leave no sample."""
        default = SAMPLER_STEPS.get(canonical_scheme(scheme), PAPERS_STEPS) if scheme else None
        n_steps, burn_in = default or PAPERS_STEPS
        n_steps = n_steps if self.n_steps is None else self.n_steps
        burn_in = burn_in if self.burn_in is None else self.burn_in
        if final:
            n_steps = n_steps if self.final_steps is None else self.final_steps
            burn_in = burn_in if self.final_burn_in is None else self.final_burn_in
        if not 0 <= burn_in < n_steps:
            which = "final_steps > final_burn_in" if final else "steps > burn-in"
            who = label or scheme or "a kernel of your own (the papers' 40/30 unless given)"
            raise ConfigError(
                f"schedule: need {which} >= 0; {who} would run {n_steps} steps with "
                f"{burn_in} burn-in"
            )
        return n_steps, burn_in

    def samples_for(self, scheme: str | None) -> int:
        """``R``, samples per E-step of ``scheme``."""
        n_steps, burn_in = self.steps_for(scheme)
        return n_steps - burn_in

    def resolved(
        self, scheme: str | None, *, structured: bool = False
    ) -> dict[str, float | int | str | None]:
        """Every number, with the steps and burn-in ``scheme`` runs and the variational
        E-step's updates (``structured``: a temporal prior's guide), for reports."""
        n_steps, burn_in = self.steps_for(scheme)
        final_steps, final_burn_in = self.steps_for(scheme, final=True)
        return {
            **self.__dict__,
            "vem_updates": self.vem_updates_for(structured),
            "n_steps": n_steps,
            "burn_in": burn_in,
            "final_steps": final_steps,
            "final_burn_in": final_burn_in,
        }

    def vem_updates_for(self, structured: bool) -> int:
        """Adam steps per variational E-step: ``vem_updates``, or :data:`VEM_UPDATES`'s default
        for a per-frame encoder (``structured=False``) or a sequential guide (``True``)."""
        if self.vem_updates is not None:
            return self.vem_updates
        return VEM_UPDATES["trajectory" if structured else "per-frame"]

    def replace(self, **changes) -> EMSchedule:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self, scheme: str, *, markov: bool = False, trajectory: bool = False) -> str:
        """One line saying what the schedule does with ``scheme`` (``markov``: for a Markov
        prior, whose ``mcem-mh`` is checkerboard MH on the latent trajectory, with the papers'
        steps unless given; ``trajectory``: the sampler moves the whole latent trajectory as
        one block, as for the RVAE)."""
        scheme = canonical_scheme(scheme)
        key = None if markov else scheme
        n_steps, burn_in = self.steps_for(key)
        final_steps, final_burn_in = self.steps_for(key, final=True)
        head = f"NMF rank {self.rank}, {self.n_iter} EM iterations"
        if self.nmf_prior == "ard":
            head = f"NMF with ARD from rank {self.rank}, {self.n_iter} EM iterations"
        elif self.nmf_prior != "none":
            head = (
                f"NMF rank {self.rank} ({self.nmf_prior} activations), {self.n_iter} EM iterations"
            )
        if self.tol is not None:
            head += f" (stop at relative change < {self.tol:g})"
        if scheme == "vem":
            structured = markov or trajectory
            what = "the guide over the whole trajectory" if structured else "encoder"
            return (
                f"{head}, VEM ({what}): {self.vem_updates_for(structured)} Adam update(s) per "
                f"E-step at lr "
                f"{self.vem_lr:g}, {n_steps - burn_in} draws from q per M-step"
            )
        if scheme == "mcem-mh":
            sampler = f"random-walk MH, proposal variance {self.proposal_variance:g}"
            if markov:
                sampler = "checkerboard " + sampler + " (even frames, then odd frames)"
            if self.mh_adapt is not None:
                sampler += f" adapted per frame to acceptance {self.mh_adapt:g} in burn-in"
        elif scheme == "mcem-mala":
            where = "on the whole latent trajectory" if trajectory else "per frame"
            sampler = (
                f"MALA, step {self.mala_step_size:g} adapted {where} to acceptance "
                f"{self.mala_target:g} in burn-in"
            )
        else:
            sampler = f"unadjusted Langevin, step {self.langevin_step_size:g}"
        return (
            f"{head}, {sampler}, {n_steps} steps per E-step of which {burn_in} "
            f"burn-in ({n_steps - burn_in} samples x {self.chains} chain(s)), final run "
            f"{final_steps} steps ({final_burn_in} burn-in)"
        )


def make_nmf_prior(schedule: EMSchedule) -> NMFPrior | None:
    """The schedule's prior on the NMF (:mod:`inference.nmf_priors`), or ``None``."""
    shape = {} if schedule.nmf_prior_shape is None else {"shape": schedule.nmf_prior_shape}
    if schedule.nmf_prior == "ard":
        return ARDPrior(**shape)
    if schedule.nmf_prior in ("smooth", "smooth-h"):
        return SmoothPrior(**shape, log_domain=schedule.nmf_prior == "smooth")
    return None


def _mh_adaptation(schedule: EMSchedule, burn_in: int) -> DualAveraging | None:
    """The random walk's dual averaging towards ``schedule.mh_adapt`` in burn-in, if asked
    (and there is a burn-in to adapt in)."""
    if schedule.mh_adapt is None or burn_in == 0:
        return None
    return DualAveraging(target=schedule.mh_adapt)


def make_e_step(
    scheme: str,
    schedule: EMSchedule,
    *,
    final: bool = False,
    encoder: torch.nn.Module | None = None,
    encoder_input: torch.Tensor | None = None,
) -> EStep:
    """The E-step of ``scheme`` with the schedule's settings (``final``: the final run's).

    E-steps carry no state of their own (:mod:`inference.esteps`): the final run continues the
    EM iterations' :class:`~inference.esteps.EStepState` (chains, MALA's adapted per-frame step
    sizes, VEM's fine-tuned encoder), so it is built like any other. ``encoder`` and its input:
    variational EM's Gaussian (:class:`~avgen.pipelines.vae_nmf.target.EncoderForVEM`).
    """
    scheme = canonical_scheme(scheme)
    n_steps, burn_in = schedule.steps_for(scheme, final=final)
    if scheme == "mcem-mh":
        return MHEStep(
            RWM,
            n_steps=n_steps,
            burn_in=burn_in,
            step_size=math.sqrt(schedule.proposal_variance),
            adapt=_mh_adaptation(schedule, burn_in),
        )
    if scheme == "mcem-mala":
        adapt = DualAveraging(target=schedule.mala_target) if burn_in > 0 else None
        return MHEStep(
            MALA, n_steps=n_steps, burn_in=burn_in, step_size=schedule.mala_step_size, adapt=adapt
        )
    if scheme == "langevin":
        return LangevinEStep(
            n_steps=n_steps, burn_in=burn_in, step_size=schedule.langevin_step_size
        )
    if encoder is None or encoder_input is None:
        raise ConfigError("the vem scheme needs an encoder and its input")
    # a guide over the whole trajectory (a temporal prior's) or a per-frame Gaussian
    structured = getattr(encoder, "structured", False)
    return (StructuredVariationalEStep if structured else VariationalEStep)(
        encoder,
        encoder_input,
        n_updates=schedule.vem_updates_for(structured),
        lr=schedule.vem_lr,
        n_samples=schedule.samples_for(scheme),
    )


@dataclass(frozen=True)
class SchemeChoice:
    """What runs: a label for reports, the E-step of the EM iterations and the one of the final
    run for the estimate (the same object for a user's E-step), and whether EM stops when the
    speech estimate collapses (:mod:`avgen.pipelines.vae_nmf.guard`)."""

    label: str
    e_step: EStep
    final: EStep
    builtin: bool
    stop_on_collapse: bool = False


def resolve_scheme(
    scheme: str | Kernel | EStep,
    schedule: EMSchedule,
    *,
    encoder: torch.nn.Module | None = None,
    encoder_input: torch.Tensor | None = None,
    markov: bool = False,
) -> SchemeChoice:
    """A scheme by name (:data:`SCHEMES`; with ``markov``, a prior whose latent frames form a
    Markov chain, ``mcem-mh`` is the checkerboard random-walk MH of
    :mod:`inference.markov_mh` with the same steps, burn-in and proposal variance, and the
    other names are a :class:`ConfigError`; the papers' 40 steps of which 30 burn-in unless
    given), any :class:`inference.chain.Kernel` (run by
    :class:`inference.esteps.ChainEStep` with the schedule's steps, burn-in and the proposal
    standard deviation ``sqrt(proposal_variance)`` as its step size, for the iterations and for
    the final run), or any :class:`inference.esteps.EStep` (used as it is, for both)."""
    if isinstance(scheme, str) and markov and canonical_scheme(scheme) != "vem":
        # vem is built as for any prior, from the sequential guide the prior gave as encoder
        return _markov_choice(canonical_scheme(scheme), schedule)
    if isinstance(scheme, str):
        name = canonical_scheme(scheme)
        options = {"encoder": encoder, "encoder_input": encoder_input}
        return SchemeChoice(
            name,
            make_e_step(name, schedule, **options),
            make_e_step(name, schedule, final=True, **options),
            True,
            # variational EM can slide into the collapse the guard detects (guard.py)
            stop_on_collapse=name == "vem",
        )
    if isinstance(scheme, Kernel):
        step = math.sqrt(schedule.proposal_variance)

        def chain(n_steps: int, burn_in: int) -> ChainEStep:
            return ChainEStep(scheme, n_steps=n_steps, burn_in=burn_in, step_size=step)

        return SchemeChoice(
            scheme.name,
            chain(*schedule.steps_for(None)),
            chain(*schedule.steps_for(None, final=True)),
            False,
        )
    if isinstance(scheme, EStep):
        return SchemeChoice(getattr(scheme, "name", type(scheme).__name__), scheme, scheme, False)
    raise ConfigError(
        f"scheme must be a name ({', '.join(SCHEMES)}), an inference.chain.Kernel or an "
        f"inference.esteps.EStep; got {type(scheme).__name__}"
    )


def _markov_choice(name: str, schedule: EMSchedule) -> SchemeChoice:
    """``mcem-mh`` for a Markov prior: :data:`~inference.markov_mh.CHECKERBOARD_RWM` (two
    vectorised half-sweeps per step, each frame's blanket density), the schedule's numbers (the
    papers' 40 steps of which 30 burn-in unless given: the DKF was measured with them). (Its
    ``vem`` fine-tunes its sequential guide: :class:`inference.vem.StructuredVariationalEStep`,
    built by :func:`make_e_step` from the prior's ``vem_encoder``.)"""
    from inference.markov_mh import CHECKERBOARD_RWM

    if name != "mcem-mh":
        raise ConfigError(
            f"--scheme {name} does not apply to a Markov prior (its latent frames are not "
            "independent): use --scheme mcem-mh (checkerboard MH) or vem (its guide)"
        )

    def chain(n_steps: int, burn_in: int) -> ChainEStep:
        return ChainEStep(
            CHECKERBOARD_RWM,
            n_steps=n_steps,
            burn_in=burn_in,
            step_size=math.sqrt(schedule.proposal_variance),
            adapt=_mh_adaptation(schedule, burn_in),
        )

    return SchemeChoice(
        name,
        chain(*schedule.steps_for(None)),
        chain(*schedule.steps_for(None, final=True)),
        True,
    )
