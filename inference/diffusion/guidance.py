"""Classifier-free guidance as a denoiser combinator (Ho & Salimans, 2022).

Convention: with ``D_u = D(x, s, null_cond)`` and ``D_c = D(x, s, cond)``,

    D_w(x, s, cond) = D_u + w (D_c - D_u),

so ``w = 0`` is the unconditional denoiser, ``w = 1`` the conditional one and ``w > 1``
extrapolates away from the unconditional prediction. (Ho & Salimans write
``(1 + w') eps_c - w' eps_u``; their ``w'`` is ``w - 1`` here.) In score terms
``score_w = (1 - w) score_u + w score_c``, the score of ``p_u^{1-w} p_c^w`` up to normalisation.
``w = 0`` and ``w = 1`` call a single branch, so they reduce *exactly*.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InferenceError
from .protocol import Denoiser


def _expand_like(cond: torch.Tensor, batch: int) -> torch.Tensor:
    if cond.shape[0] == batch:
        return cond
    if cond.shape[0] == 1:
        return cond.expand(batch, *cond.shape[1:])
    raise InferenceError(
        f"batched guidance needs conditions with batch size {batch} or 1, got {cond.shape[0]}"
    )


def classifier_free_guidance(
    denoiser: Denoiser, weight: float, null_cond: Any, *, batched: bool = False
) -> Denoiser:
    """The guided denoiser ``D_w(x, s, cond)`` (see the module docstring).

    ``batched=True`` evaluates both branches in one call of batch ``2B`` (faster on a GPU); it
    needs ``cond`` and ``null_cond`` to be tensors with batch size ``B`` (or 1). Otherwise the
    denoiser is called twice and conditions may be any objects the model takes.
    """
    w = float(weight)

    def guided(x: torch.Tensor, sigma: torch.Tensor, cond: Any = None) -> torch.Tensor:
        if w == 0.0:
            return denoiser(x, sigma, null_cond)
        if w == 1.0:
            return denoiser(x, sigma, cond)
        if batched:
            if not (isinstance(cond, torch.Tensor) and isinstance(null_cond, torch.Tensor)):
                raise InferenceError("batched guidance needs tensor conditions; use batched=False")
            b = x.shape[0]
            both = torch.cat([_expand_like(null_cond, b), _expand_like(cond, b)])
            out = denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), both)
            uncond, conditional = out[:b], out[b:]
        else:
            uncond = denoiser(x, sigma, null_cond)
            conditional = denoiser(x, sigma, cond)
        return uncond + w * (conditional - uncond)

    return guided
