"""Convergence diagnostics with explicit layouts: classic and rank-normalised R-hat and ESS.

**Layouts are explicit.** A tensor of draws has a *draw* dimension, optionally a *chain*
dimension, and any number of other dimensions (frames, latent coordinates) over which the
diagnostics are computed elementwise. Nothing is guessed: ``run_chain`` returns ``(S, T, D)``
for one chain and ``(S, C, T, D)`` for ``C`` chains, and a default ``chain_dim=1`` would read the
frames of the first as chains. Every function therefore takes either

* ``layout``: one name per dimension, e.g. ``"draw chain frame dim"`` or
  ``("draw", "frame", "dim")``; ``"draw"`` is required, ``"chain"`` optional, the other names
  are free (ArviZ's order is ``"chain draw ..."``: say so and it is read correctly); or
* ``sample_dim`` and ``chain_dim`` (``None``: a single chain), both explicitly,

and raises :class:`~inference.errors.InferenceError` when the layout is ambiguous (more than one
dimension and neither given). A 1-D tensor is one chain of draws.

**Two families, named for what they are.**

* *Classic* (Gelman & Rubin 1992; Gelman et al., BDA3 2013, ch. 11): :func:`split_rhat` is the
  split potential scale reduction ``sqrt(var+ / W)`` on the raw draws, ``var+ = (n-1)/n W + B/n``
  with chains split in halves; :func:`effective_sample_size` is Stan's multi-chain ESS of the raw
  draws with Geyer's initial monotone sequence (Pyro's estimator). They measure the mean and
  assume a finite variance.
* *Rank-normalised* (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization,
  folding, and localization: an improved R-hat for assessing convergence of MCMC", Bayesian
  Analysis 16(2)): draws are replaced by normal scores of their pooled ranks,
  ``z = Phi^{-1}((r - 3/8) / (S + 1/4))`` (Blom 1958), after splitting the chains.
  :func:`rank_normalized_split_rhat` is ``max(R-hat(z), R-hat(z of |x - median|))`` (bulk and
  folded/tail), :func:`ess_bulk` the ESS of ``z``, :func:`ess_tail` the smaller ESS of the
  indicators ``1{x <= q_0.05}`` and ``1{x <= q_0.95}``. These are ArviZ's defaults
  (``az.rhat``, ``az.ess``) and Stan's; they are computed exactly as ArviZ does (the tests compare
  with ``arviz`` when it is installed), including the Stan autocorrelation sum with its final
  odd term and the lower bound ``tau >= 1 / log10(S)``. Vehtari et al. recommend rank-normalised
  R-hat < 1.01 and bulk and tail ESS > 100 per chain (400 for 4 chains) before trusting
  posterior summaries.

On the same draws the two R-hats differ (e.g. 1.000 classic vs 1.017 rank-normalised on a short
run): quote which one. MCSE of a mean is ``sd / sqrt(ESS)`` with the classic ESS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyro.ops.stats as stats
import torch
from scipy import stats as scipy_stats

from inference.errors import InferenceError

Layout = str | Sequence[str]
"""One name per dimension: ``"draw chain frame dim"`` or a tuple of names."""

_UNSET = "unset"  # sentinel (an immutable str) for "chain_dim not given"


def resolve_layout(
    samples: torch.Tensor,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> tuple[int, int | None]:
    """``(sample_dim, chain_dim)`` from a named layout or explicit dimensions; see the module."""
    if layout is not None:
        if sample_dim is not None or chain_dim != _UNSET:
            raise InferenceError("give either layout or sample_dim/chain_dim, not both")
        names = layout.replace(",", " ").split() if isinstance(layout, str) else list(layout)
        if len(names) != samples.ndim:
            raise InferenceError(
                f"layout {tuple(names)} names {len(names)} dimensions; the draws have "
                f"{samples.ndim}: {tuple(samples.shape)}"
            )
        if names.count("draw") != 1 or names.count("chain") > 1:
            raise InferenceError(f"layout {tuple(names)} needs one 'draw' and at most one 'chain'")
        return names.index("draw"), names.index("chain") if "chain" in names else None
    if chain_dim == _UNSET:
        if samples.ndim == 1 and sample_dim in (None, 0, -1):
            return 0, None
        raise InferenceError(
            f"ambiguous layout for draws of shape {tuple(samples.shape)}: say which dimension "
            "holds draws and which chains, e.g. layout='draw chain frame dim' (run_chain with "
            "chains), layout='draw frame dim' (one chain), or sample_dim=0, chain_dim=None"
        )
    sample_dim = 0 if sample_dim is None else sample_dim
    dims = [sample_dim] + ([] if chain_dim is None else [chain_dim])
    normalised = [d % samples.ndim if -samples.ndim <= d < samples.ndim else None for d in dims]
    if None in normalised or len(set(normalised)) != len(normalised):
        raise InferenceError(
            f"sample_dim={sample_dim}, chain_dim={chain_dim} do not name distinct dimensions of "
            f"draws of shape {tuple(samples.shape)}"
        )
    return normalised[0], None if chain_dim is None else normalised[1]


def _draws_chains_elements(
    samples: torch.Tensor, sample_dim: int, chain_dim: int | None
) -> tuple[torch.Tensor, torch.Size]:
    """``(N, C, E)`` float64 and the shape of the remaining dimensions."""
    x = samples.detach().double()
    if chain_dim is None:
        x = x.movedim(sample_dim, 0).unsqueeze(1)
    else:
        x = x.movedim((sample_dim, chain_dim), (0, 1))
    rest = x.shape[2:]
    if x.shape[0] < 4:
        raise InferenceError(f"need at least 4 draws per chain; got {x.shape[0]}")
    return x.reshape(x.shape[0], x.shape[1], -1), rest


def _chain_variances(x: torch.Tensor, pyro_single_chain: bool = False) -> tuple[torch.Tensor, ...]:
    """Within-chain variance ``W`` and ``var+ = (N-1)/N W + B/N``; ``x`` is ``(N, C, ...)``.
    For one chain Pyro uses ``var+`` in place of ``W`` (``pyro_single_chain``), Stan does not."""
    n = x.shape[0]
    within = x.var(dim=0).mean(dim=0)
    pooled = (n - 1) / n * within
    if x.shape[1] > 1:
        return within, pooled + x.mean(dim=0).var(dim=0)
    return (pooled if pyro_single_chain else within), pooled


def _biased_autocovariance(x: torch.Tensor) -> torch.Tensor:
    """``acov_t = (1/N) sum_i (x_i - m)(x_i+t - m)`` along dim 0 by FFT (Stan's, ArviZ's; Pyro's
    :func:`~pyro.ops.stats.autocovariance` divides lag ``t`` by ``N - t`` instead)."""
    n = x.shape[0]
    centred = x - x.mean(dim=0, keepdim=True)
    spectrum = torch.fft.rfft(centred, n=2 * n, dim=0)
    return torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n, dim=0)[:n] / n


def _autocorrelation(x: torch.Tensor, biased: bool = False) -> torch.Tensor:
    """Stan's combined autocorrelation ``rho_t = 1 - (W - mean_c acov_t) / var+``, ``(N, E)``."""
    within, pooled = _chain_variances(x, pyro_single_chain=not biased)
    acov = _biased_autocovariance(x) if biased else stats.autocovariance(x, dim=0)
    rho = 1.0 - (within - acov.mean(dim=1)) / pooled
    rho[0] = 1.0
    return rho


def _classic_ess(x: torch.Tensor) -> torch.Tensor:
    """Pyro's estimator (initial monotone sequence), on ``(N, C, E)``."""
    n, n_chains = x.shape[:2]
    rho = _autocorrelation(x)
    pairs = (rho if n % 2 == 0 else rho[:-1]).reshape(n // 2, 2, *rho.shape[1:]).sum(dim=1)
    tau = 2.0 * pairs[0] - 1.0
    if pairs.shape[0] > 1:
        tau = tau + 2.0 * pairs[1:].clamp(min=0.0).cummin(dim=0).values.sum(dim=0)
    return n_chains * n / tau


def _stan_ess(x: torch.Tensor) -> torch.Tensor:
    """Stan's / ArviZ's ``_ess`` on ``(N, C, E)``: pairs ``P_k = rho_2k + rho_2k+1`` summed while
    positive (Geyer's initial positive sequence), made monotone, plus the first dropped pair's
    even term when positive; ``tau = max(-1 + 2 sum P + rho_2k*, 1 / log10(NC))``."""
    n, n_chains = x.shape[:2]
    size = n * n_chains
    rho = _autocorrelation(x, biased=True)
    n_pairs = max((n - 1) // 2, 1)
    pairs = rho[: 2 * n_pairs].reshape(n_pairs, 2, -1).sum(dim=1)  # (K, E)
    exits = pairs <= 0
    index = torch.arange(n_pairs).unsqueeze(-1)
    first_exit = torch.where(exits, index, n_pairs).min(dim=0).values  # (E,)
    exited = first_exit < n_pairs
    k_star = torch.where(exited, first_exit, n_pairs - 1)
    monotone = pairs.cummin(dim=0).values
    kept = (index < k_star).double()
    even = rho[2 * k_star, torch.arange(rho.shape[1])]
    last = torch.where(exited, even.clamp(min=0.0), even)
    tau = -1.0 + 2.0 * (monotone * kept).sum(dim=0) + last
    tau = tau.clamp(min=1.0 / math.log10(size))
    ess = size / tau
    constant = (x.amax(dim=(0, 1)) - x.amin(dim=(0, 1))) < torch.finfo(torch.float64).resolution
    return torch.where(constant, torch.full_like(ess, float(size)), ess)


def _rhat(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(var+ / W)`` of ``(N, C, E)`` (chains already split when split R-hat is wanted)."""
    within, pooled = _chain_variances(x)
    return (pooled / within).sqrt()


def _split(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, E) -> (N // 2, 2C, E)``: first and last halves (the middle draw of an odd N
    dropped), as Stan and ArviZ split."""
    half = x.shape[0] // 2
    return torch.cat([x[:half], x[-half:]], dim=1)


def _normal_scores(x: torch.Tensor) -> torch.Tensor:
    """Rank normalisation ``Phi^{-1}((r - 3/8) / (S + 1/4))`` with pooled average ranks."""
    n, c, e = x.shape
    ranks = scipy_stats.rankdata(x.reshape(n * c, e).numpy(), method="average", axis=0)
    ranks = torch.from_numpy(ranks).reshape(n, c, e)
    return torch.special.ndtri((ranks - 0.375) / (n * c + 0.25))


def _elementwise(samples, layout, sample_dim, chain_dim, fn) -> torch.Tensor:
    dims = resolve_layout(samples, layout, sample_dim, chain_dim)
    x, rest = _draws_chains_elements(samples, *dims)
    return fn(x).reshape(rest)


def effective_sample_size(
    samples: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> torch.Tensor:
    """*Classic* ESS of the raw draws, elementwise (Geyer 1992; Stan's multi-chain form).

    ``ESS = N C / tau`` with ``tau = -1 + 2 sum_t rho_t`` and Stan's combined autocorrelation
    ``rho_t = 1 - (W - mean_c acov_c(t)) / var+``, the sum of pairs ``rho_2k + rho_2k+1`` clamped
    at 0 and made monotone (initial monotone sequence). It is Pyro's
    :func:`pyro.ops.stats.effective_sample_size` with a ``cummin`` instead of Pyro's ``N x N``
    mask per element (a test checks they agree). For the rank-normalised ESS (ArviZ's ``az.ess``
    default) use :func:`ess_bulk` and :func:`ess_tail`. Returns the shape of the dimensions other
    than draw and chain.
    """
    return _elementwise(samples, layout, sample_dim, chain_dim, _classic_ess)


def split_rhat(
    samples: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> torch.Tensor:
    """*Classic* split R-hat of the raw draws (Gelman et al., BDA3 2013, eq. 11.4), elementwise.

    Each chain is split in halves (``2C`` chains of ``N // 2`` draws, Pyro's
    :func:`~pyro.ops.stats.split_gelman_rubin`), then ``sqrt(var+ / W)``. Not ArviZ's default:
    ``az.rhat`` is :func:`rank_normalized_split_rhat`.
    """

    def fn(x: torch.Tensor) -> torch.Tensor:
        return _rhat(_split(x))

    return _elementwise(samples, layout, sample_dim, chain_dim, fn)


def rank_normalized_split_rhat(
    samples: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> torch.Tensor:
    """*Rank-normalised* split R-hat (Vehtari et al. 2021, eq. 4.2 and sec. 4.3), elementwise.

    ``max(R-hat(z(split x)), R-hat(z(|split x - median|)))``, ``z`` the normal scores of pooled
    ranks: the bulk R-hat catches chains with different locations, the folded one different
    scales, and ranks make both work for heavy tails. ArviZ's ``az.rhat`` (which returns NaN for a
    single chain; here a single chain is split in two and diagnosed).
    """

    def fn(x: torch.Tensor) -> torch.Tensor:
        split = _split(x)
        median = split.reshape(-1, split.shape[-1]).quantile(0.5, dim=0)  # numpy's median
        folded = (split - median).abs()
        return torch.maximum(_rhat(_normal_scores(split)), _rhat(_normal_scores(folded)))

    return _elementwise(samples, layout, sample_dim, chain_dim, fn)


def ess_bulk(
    samples: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> torch.Tensor:
    """*Rank-normalised* bulk ESS (Vehtari et al. 2021, sec. 4.2): Stan's ESS of the normal
    scores of the split chains; ArviZ's ``az.ess(method="bulk")``, its default."""
    return _elementwise(
        samples, layout, sample_dim, chain_dim, lambda x: _stan_ess(_normal_scores(_split(x)))
    )


def ess_tail(
    samples: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
    prob: tuple[float, float] = (0.05, 0.95),
) -> torch.Tensor:
    """*Rank-based* tail ESS (Vehtari et al. 2021, sec. 4.3): the smaller ESS of the split
    indicators ``1{x <= q_p}`` for ``p`` in ``prob`` (quantiles of all draws, R's type 7); how
    well the 5 % and 95 % quantiles are estimated. ArviZ's ``az.ess(method="tail")``."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        values = []
        for p in prob:
            quantile = flat.quantile(p, dim=0)
            values.append(_stan_ess(_split((x <= quantile).double())))
        return torch.minimum(*values)

    return _elementwise(samples, layout, sample_dim, chain_dim, fn)


def _mean_over_draws(samples, layout, sample_dim, chain_dim) -> tuple[torch.Tensor, torch.Tensor]:
    dims = resolve_layout(samples, layout, sample_dim, chain_dim)
    x, rest = _draws_chains_elements(samples, *dims)
    flat = x.reshape(-1, x.shape[-1])
    return flat.mean(dim=0).reshape(rest), flat.std(dim=0).reshape(rest)


def monte_carlo_standard_error(
    samples: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> torch.Tensor:
    """``sd / sqrt(ESS)``: the standard error of the posterior-mean estimate, elementwise (classic
    ESS of :func:`effective_sample_size`)."""
    _, sd = _mean_over_draws(samples, layout, sample_dim, chain_dim)
    ess = effective_sample_size(samples, layout=layout, sample_dim=sample_dim, chain_dim=chain_dim)
    return sd / ess.sqrt()


def standardized_error(
    samples: torch.Tensor,
    true_mean: torch.Tensor,
    *,
    layout: Layout | None = None,
    sample_dim: int | None = None,
    chain_dim: int | str | None = _UNSET,
) -> torch.Tensor:
    """``(mean - true_mean) / MCSE`` elementwise: approximately N(0, 1) for a correct sampler."""
    mean, _ = _mean_over_draws(samples, layout, sample_dim, chain_dim)
    mcse = monte_carlo_standard_error(
        samples, layout=layout, sample_dim=sample_dim, chain_dim=chain_dim
    )
    return (mean - true_mean.double()) / mcse
