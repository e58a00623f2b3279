r"""The three losses of MVSD's mutual learning (Ma, Wang, Yang, Zheng, ECCV 2024).

With :math:`f` the reverberator (dry -> reverberant), :math:`g` the dereverberator
(reverberant -> dry), :math:`\hat f, \hat g` their cheap one-step predictions
(:meth:`~avgen.models.mvsd.converter.Converter.predict`), :math:`I` the picture, and
:math:`(c, r)` a paired dry / reverberant compressed STFT:

* **denoising** (EDM, Karras et al., 2022): for each converter and paired data,
  :math:`\mathbb{E}\,\lambda(\sigma)\,\|D_\theta(x_0 + \sigma\epsilon; \sigma, s, I) - x_0\|^2`
  with :math:`(s, x_0) = (c, r)` for :math:`f` and :math:`(r, c)` for :math:`g`
  (:func:`denoising_loss`);
* **style**: :math:`\|\hat f(c, I) - r\|_1 + \|\hat g(r, I) - c\|_1` on paired data
  (:func:`style_loss`; mean absolute error over every bin);
* **cycle**: :math:`\|\hat g(\hat f(c, I), I) - c\|_1` and
  :math:`\|\hat f(\hat g(r, I), I) - r\|_1`, on paired data and on the unpaired sets (dry speech
  alone; reverberant speech with its picture but no dry reference) (:func:`cycle_loss`, which
  takes the two maps as plain callables).

Total: :math:`L = L_\mathrm{den} + \lambda_\mathrm{style} L_\mathrm{style}
+ \lambda_\mathrm{cycle} L_\mathrm{cycle}`, the unpaired cycle terms only after a paired warm-up.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from avgen.models.mvsd.converter import Converter
from avgen.models.scene.embedding import SceneEmbedding


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference (a scalar)."""
    return (a - b).abs().mean()


def denoising_loss(
    converter: Converter,
    target: torch.Tensor,
    source: torch.Tensor,
    scene: SceneEmbedding | None,
    *,
    p_mean: float,
    p_std: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""EDM's weighted denoising loss of ``converter`` on ``target`` given ``source`` and
    ``scene``: :math:`\lambda(\sigma) = (\sigma^2 + \sigma_d^2) / (\sigma\sigma_d)^2`,
    :math:`\log\sigma \sim N(P_\mathrm{mean}, P_\mathrm{std}^2)`."""
    return converter.loss(target, source, scene, p_mean=p_mean, p_std=p_std, generator=generator)


def style_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""MVSD's style loss on paired data: :math:`\|\hat x - x\|_1` between the converter's
    predicted target spectrogram and the true one (mean over every element)."""
    return l1(predicted, target)


def cycle_loss(
    forward: Callable[[torch.Tensor], torch.Tensor],
    backward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
) -> torch.Tensor:
    r""":math:`\|b(a(x)) - x\|_1`: how far the round trip ``x -> forward -> backward`` lands
    from ``x`` (mean absolute error). ``forward`` and ``backward`` are any callables (the
    converters' predictions with the picture bound, or, in a test, a filter and its inverse, for
    which the loss is zero)."""
    return l1(backward(forward(x)), x)
