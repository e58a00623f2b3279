"""Export draws to ArviZ (``pip install 'avgen[arviz]'``): ``to_inference_data``.

ArviZ's layout is ``(chain, draw, *dims)`` with named dimensions; ``run_chain`` stores
``(draw, [chain,] frame, dim)`` and Pyro's ``MCMC`` ``(chain, draw, *site shape)``.
:func:`to_inference_data` takes

* a tensor of draws with a named ``layout`` (:mod:`inference.convergence`), e.g. enhancement
  samples ``(chains, draws, T, D)`` with ``layout="chain draw frame dim"``;
* a :class:`~inference.chain.ChainResult` with the layout of its ``samples``;
* a ``pyro.infer.MCMC`` after ``run`` (e.g. with :class:`~inference.pyro_kernel.PerFrameKernel`):
  chains a ``PerFrameKernel`` runs *inside* one Pyro chain (a leading chain dimension in its
  initial position) become ArviZ chains too;

and returns an ``arviz.InferenceData`` whose ``posterior`` group holds the draws under
``var_name`` with the layout's other names as dimension names, so that ``az.rhat``, ``az.ess``,
``az.summary`` and ``az.plot_trace`` read them correctly. ``az.from_pyro(mcmc)`` also works on a
``PerFrameKernel`` run (the kernel reports ``divergences``, always none: Metropolis-Hastings has
no trajectory to diverge).
"""

from __future__ import annotations

from typing import Any

import torch

from inference.chain import ChainResult
from inference.convergence import Layout, resolve_layout
from inference.errors import InferenceError


def _arviz() -> Any:
    try:
        import arviz
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise InferenceError(
            "to_inference_data needs ArviZ: pip install 'avgen[arviz]' (or arviz>=0.17)"
        ) from error
    return arviz


def _names(layout: Layout) -> list[str]:
    return layout.replace(",", " ").split() if isinstance(layout, str) else list(layout)


def chain_draw_first(samples: torch.Tensor, layout: Layout) -> tuple[torch.Tensor, list[str]]:
    """``samples`` as ``(chain, draw, *rest)`` (a chain dimension of 1 added when there is none)
    and the names of ``rest``."""
    sample_dim, chain_dim = resolve_layout(samples, layout)
    names = _names(layout)
    if chain_dim is None:
        x = samples.movedim(sample_dim, 0).unsqueeze(0)
        rest = [n for i, n in enumerate(names) if i != sample_dim]
    else:
        x = samples.movedim((chain_dim, sample_dim), (0, 1))
        rest = [n for i, n in enumerate(names) if i not in (sample_dim, chain_dim)]
    return x, rest


def _from_mcmc(mcmc: Any, dims: dict[str, list[str]] | None) -> tuple[dict, dict, dict]:
    """Posterior arrays, their dimension names and ``sample_stats`` of a Pyro MCMC run."""
    n_draws = mcmc.num_samples
    chain_shape = tuple(getattr(mcmc.kernel, "chain_shape", ()))
    posterior, names = {}, {}
    for site, value in mcmc.get_samples(group_by_chain=True).items():
        k = len(chain_shape)
        if k and tuple(value.shape[2 : 2 + k]) == chain_shape:
            # (P, S, *C, *site) -> (P * prod(C), S, *site): inner chains are chains
            value = value.movedim(tuple(range(2, 2 + k)), tuple(range(1, 1 + k)))
            value = value.reshape(-1, n_draws, *value.shape[2 + k :])
        site_dims = list((dims or {}).get(site, []))
        if not site_dims:
            per_frame = hasattr(mcmc.kernel, "chain_shape") and value.dim() == 4
            site_dims = (
                ["frame", "dim"]
                if per_frame
                else [f"{site}_dim_{i}" for i in range(value.dim() - 2)]
            )
        posterior[site] = value.detach().cpu().numpy()
        names[site] = site_dims
    n_rows = next(iter(posterior.values())).shape[0]
    diverging = torch.zeros(n_rows, n_draws, dtype=torch.bool)
    divergences = mcmc.diagnostics().get("divergences", {})
    per_pyro_chain = n_rows // max(mcmc.num_chains, 1)
    for i, key in enumerate(sorted(divergences)):
        rows = slice(i * per_pyro_chain, (i + 1) * per_pyro_chain)
        diverging[rows, list(divergences[key])] = True
    return posterior, names, {"diverging": diverging.numpy()}


def to_inference_data(
    source: torch.Tensor | ChainResult | Any,
    *,
    layout: Layout | None = None,
    var_name: str = "z",
    dims: dict[str, list[str]] | None = None,
    coords: dict[str, Any] | None = None,
) -> Any:
    """Draws as an ``arviz.InferenceData`` (``posterior`` group, named dimensions).

    Args:
        source: a tensor of draws, a :class:`~inference.chain.ChainResult`, or a Pyro ``MCMC``
            after ``run``.
        layout: the names of the tensor's (or ``ChainResult.samples``') dimensions, with one
            ``"draw"`` and at most one ``"chain"``, e.g. ``"draw chain frame dim"``; required for
            tensors and chain results, unused for ``MCMC``.
        var_name: the variable's name for a tensor or chain result.
        dims: for ``MCMC``, dimension names per site (default: the ``PerFrameKernel``'s
            ``("frame", "dim")``, or ArviZ's ``<site>_dim_<i>``).
        coords: coordinate values per dimension name (default: integer positions).
    """
    az = _arviz()
    if hasattr(source, "get_samples") and hasattr(source, "num_chains"):
        posterior, names, stats = _from_mcmc(source, dims)
        return az.from_dict(posterior=posterior, sample_stats=stats, dims=names, coords=coords)
    if isinstance(source, ChainResult):
        attrs = {}
        if source.acceptance_rate is not None:
            attrs["acceptance_rate_mean"] = float(source.acceptance_rate.double().mean())
        attrs["step_size_mean"] = float(torch.as_tensor(source.step_size).double().mean())
        data = to_inference_data(source.samples, layout=layout, var_name=var_name, coords=coords)
        data.posterior.attrs.update(attrs)
        return data
    if not isinstance(source, torch.Tensor):
        raise InferenceError(
            f"to_inference_data takes a tensor, a ChainResult or a pyro MCMC; got {type(source)}"
        )
    if layout is None:
        raise InferenceError(
            "name the dimensions of the draws: layout='draw chain frame dim' (run_chain with "
            "chains), 'draw frame dim' (one chain) or 'chain draw frame dim'"
        )
    x, rest = chain_draw_first(source.detach(), layout)
    return az.from_dict(posterior={var_name: x.cpu().numpy()}, dims={var_name: rest}, coords=coords)


def draws_from_inference_data(data: Any, var_name: str = "z") -> torch.Tensor:
    """The draws of ``var_name`` back as a tensor, layout ``"chain draw *dims"``."""
    return torch.from_numpy(data.posterior[var_name].values.copy())
