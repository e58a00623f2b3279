"""Sentences that say what an enhancement run did, from its ``info`` (for the command line,
the demo and reports), and the JSON helpers of reports."""

from __future__ import annotations

import math

from avgen.pipelines.result import PipelineResult


def describe_result(result: PipelineResult, *, source: str = "the input") -> str:
    """Sentences that say exactly what a run did, for the command line and reports."""
    info = result.info
    init_text = {
        "prior": "the prior mean",
        "audio": "the encoder on the noisy input",
        "visual": "the visual encoder on the lips",
        "mixture": "the mixture of the audio and visual encoders",
    }.get(info["init"], info["init"])
    lines = [
        f"enhanced {source} ({info['duration_s']:.2f} s, {info['n_frames']} STFT frames: "
        f"sine window {info['stft']['n_fft']}, hop {info['stft']['hop_length']}) with the "
        f"{info['model']} speech prior and NMF noise learnt from the input alone",
        f"scheme {info['scheme']}: {info['schedule_text']}",
        f"E-step: {info['e_step']}; final run: {info['final_e_step']}",
        f"chains started from {init_text}; lips: {info['lips']}; seed {info['seed']}; "
        f"device {info['device']}",
        f"{info['em_iterations']} EM iterations (stop: {info['stop_reason']}), final "
        + (
            "IS divergence"
            if info["schedule"].get("nmf_prior", "none") == "none"
            else f"MAP objective ({info['schedule']['nmf_prior']} NMF prior)"
        )
        + f" per bin {info['final_objective']:.4f}"
        + (
            ""
            if info["final_acceptance"] is None
            else f", final acceptance {info['final_acceptance']:.2f}"
        ),
        f"took {info['seconds']:.2f} s (real-time factor {info['real_time_factor']:.2f}); "
        "estimate = posterior mean (Wiener filter averaged over the final samples), "
        "uncertainty = per-bin posterior variance",
    ]
    share = info.get("speech_share") or {}
    if share.get("collapsed_at") is not None:
        action = (
            "EM stopped there and the estimate comes from the iteration before"
            if share["stopped"]
            else "the estimate may have lost the speech"
        )
        lines.append(
            f"warning: the share of the input the speech estimate keeps fell from "
            f"{share['first']:.2f} (first iteration) below a quarter of it at iteration "
            f"{share['collapsed_at']} (the noise model absorbed the speech): {action}; "
            "compare with --scheme mcem-mh"
        )
    check = info.get("objective_check") or {}
    if check.get("worse"):
        lines.append(
            f"warning: the EM objective (IS divergence per bin) ended at {check['final']:.4f}, "
            f"worse than after the first iteration ({check['first']:.4f}): the estimate may "
            "be worse than the model's start; compare with --scheme mcem-mh"
        )
    if info.get("nmf_active_components") is not None:
        lines.append(
            f"ARD kept {info['nmf_active_components']} of the {info['schedule']['rank']} NMF "
            "components"
        )
    if info.get("mean_visual_weight") is not None:
        lines.append(
            f"MIN-VAE visual weight on the noisy input: mean {info['mean_visual_weight']:.2f}"
        )
    return "\n".join(lines)


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN: ``None`` for a non-finite number."""
    return None if value is None or not math.isfinite(value) else float(value)
