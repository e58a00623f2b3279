"""The one result type of every pipeline: "model + likelihood + inference -> estimate".

Unsupervised enhancement with a VAE prior (:mod:`avgen.pipelines.vae_nmf`), with a diffusion
prior (:mod:`avgen.pipelines.diffusion.udiffse`), blind dereverberation
(:mod:`avgen.pipelines.diffusion.dereverb`) and the converters to come all return a
:class:`PipelineResult`: the waveform estimate, its spectrum in the pipeline's own STFT, a
per-bin posterior variance where the method has one, the :class:`~inference.history.History` of
the iterations, the fitted noise model where there is one, a JSON-ready ``info`` and the few
outputs that only one method has (``extras``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from inference.history import History
from inference.nmf import NMFParams


@dataclass(frozen=True)
class PipelineResult:
    """What a pipeline returns.

    Attributes:
        estimate: ``(n_samples,)`` float32 waveform at the level of the input.
        spectrum: ``(F, T)`` complex STFT of the estimate in the pipeline's representation
            (``info["stft"]`` names it: the VAE family's sine 1024 / hop 256, or the diffusion
            family's compressed STFT at the prior's operating level).
        uncertainty: ``(F, T)`` per-bin posterior variance of ``spectrum`` (``E|X - E X|^2``), or
            ``None`` where the method gives none (a single posterior sample).
        observation_power: ``(F, T)`` ``|Y|^2`` of the input in the same representation (the
            reference against which ``uncertainty`` reads as relative), or ``None``.
        history: one record per iteration (EM iteration, reverse step), each with an
            ``objective`` (lower is better; what it is depends on the method, ``info``
            says).
        noise: the fitted NMF noise model (``W`` ``(F, K)``, ``H`` ``(K, T)``, ``gain``
            ``(T,)``), in the representation of ``spectrum``, or ``None``.
        info: the run's settings and measurements, JSON-ready (``pipeline``, ``seed``,
            ``device``, ``seconds``, ``real_time_factor``, ``stft``, ...).
        extras: outputs only one method has (e.g. ``frame_acceptance``, ``visual_weight``,
            ``rir``, ``t60_per_band``); each pipeline's docstring lists its keys.
    """

    estimate: torch.Tensor
    spectrum: torch.Tensor | None
    uncertainty: torch.Tensor | None
    history: History
    info: dict[str, Any] = field(default_factory=dict)
    observation_power: torch.Tensor | None = None
    noise: NMFParams | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def noise_variance(self) -> torch.Tensor | None:
        """``W H`` ``(F, T)`` of the fitted noise model, or ``None``."""
        return None if self.noise is None else self.noise.W @ self.noise.H


@dataclass(frozen=True)
class FileOutcome:
    """What a one-file entry point (``enhance_file``, ``dereverb_file``) returns: the result,
    the sentences that say what was done, and the files written."""

    result: PipelineResult
    lines: list[str]
    written: list[Path]
