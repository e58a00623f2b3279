"""A/B: the NMF noise model of a long recording fitted per segment, carried across segments, or
fitted once over the whole file.

The input is built from kit material: the four bundled clips (``avgen/assets/samples``: city
ambience at 0 dB, babble, traffic at -5 dB, TV at 5 dB; clean references alongside), one after
the other and cycled to ``--minutes``, so that the noise changes every ~4 s as in a real long
recording. Three ways to enhance it with the same prior, scheme, schedule and seed:

* ``per segment`` -- :func:`avgen.pipelines.long.enhance_long` (what the library does): each
  segment's ``W``, ``H``, ``g`` start at random and are fitted to that segment alone;
* ``carried`` -- the same segments and cross-fades, but segment ``k + 1`` starts its EM from
  segment ``k``'s final spectral patterns ``W`` (``H`` and ``g`` fresh): the noise model is
  carried across the file. The EM is written out here with the pipeline's own building blocks
  (:mod:`avgen.pipelines.vae_nmf.target`, :mod:`.schemes`, :class:`inference.nmf_em.
  GaussianScaleNMF` with ``init_state(params=...)``), as the library pipeline has no such hook;
* ``whole`` -- :func:`avgen.pipelines.vae_nmf.enhance` on the whole file (one NMF for all; its
  memory grows with the duration, the reason segments exist).

Reported: SI-SDR and ESTOI of each against the clean speech (means over ``--seeds``), seconds.

    PYTHONPATH=. nice -n 10 python benchmarks/nmf_across_segments.py --minutes 2 --em-iters 30
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from avgen.audio import VAE_STFT, bins_major, frames_major, istft, load_audio, stft
from avgen.metrics import evaluate
from avgen.models import load_model
from avgen.pipelines.long import SegmentPlan, enhance_long
from avgen.pipelines.result import PipelineResult
from avgen.pipelines.segments import Segment, run_segmented
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.pipelines.vae_nmf.schemes import make_e_step
from avgen.pipelines.vae_nmf.target import initial_latents, prior_target
from avgen.runtime import keep_freed_memory
from avgen.seeding import torch_generator
from inference.history import History
from inference.nmf import NMFParams, init_nmf, nmf_variance
from inference.nmf_em import GaussianScaleNMF, posterior_source_moments

from _bench import markdown_header, markdown_row

SAMPLES = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "samples"


def recording(minutes: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(clean, noisy) of the four bundled clips cycled to ``minutes``."""
    folders = sorted(p.parent for p in SAMPLES.glob("*/noisy.wav"))
    clean = torch.cat([load_audio(f / "clean.wav") for f in folders])
    noisy = torch.cat([load_audio(f / "noisy.wav") for f in folders])
    n = int(minutes * 60 * 16_000)
    repeats = -(-n // clean.numel())
    return clean.repeat(repeats)[:n], noisy.repeat(repeats)[:n]


def carried_segment(model, schedule: EMSchedule, segment: Segment, carry: dict) -> PipelineResult:
    """One segment's MCEM-MH started from the previous segment's ``W`` (module docstring)."""
    x = frames_major(stft(segment.wave, VAE_STFT))
    power = x.abs().square().clamp_min(1e-12)
    generator = torch_generator(segment.seed)
    with torch.no_grad():
        target = prior_target(model, None, power.shape[0])
        z0 = initial_latents(model, power, None, model.default_init)
        e_step = make_e_step("mcem-mh", schedule, encoder=None, encoder_input=power)
        em = GaussianScaleNMF(
            power, target.decoder, e_step, prior_correction=target.prior_correction,
            exponent=schedule.exponent,
        )  # fmt: skip
        fresh = init_nmf(power, schedule.rank, generator)
        params = fresh if "W" not in carry else NMFParams(carry["W"], fresh.H, fresh.gain)
        state = em.init_state(schedule.rank, z0, generator, params=params)
        state, history = em.run(state, n_iter=schedule.n_iter, tol=None, generator=generator)
        final = make_e_step("mcem-mh", schedule, final=True, encoder=None, encoder_input=power)
        state, _ = em.e_step(state, generator, e_step=final)
        p = state.params
        mean, _ = posterior_source_moments(x, state.source_variance, p.gain, nmf_variance(p.W, p.H))
        mean = mean * p.gain.unsqueeze(-1).sqrt()
    carry["W"] = p.W
    spectrum = bins_major(mean)
    estimate = istft(spectrum, VAE_STFT, length=segment.wave.numel()).float()
    return PipelineResult(estimate, spectrum, None, History(history.records, stop_reason="n_iter"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--em-iters", type=int, default=30)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--model", default="a-vae")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    model = load_model(args.model)
    schedule = EMSchedule(n_iter=args.em_iters)
    plan = SegmentPlan()
    clean, noisy = recording(args.minutes)
    scores: dict[str, list[tuple[float, float, float]]] = {}
    noisy_m = evaluate(clean, noisy)
    for seed in map(int, args.seeds.split(",")):
        runs = {
            "per segment": lambda s=seed: enhance_long(
                noisy, model, schedule=schedule, seed=s, plan=plan
            ),
            "carried": lambda s=seed: run_segmented(
                noisy,
                lambda seg, c={}: carried_segment(model, schedule, seg, c),
                seed=s,
                plan=plan,
                hop=VAE_STFT.hop_length,
                progress=False,
            ),
            "whole": lambda s=seed: enhance(noisy, model, schedule=schedule, seed=s),
        }
        for name, run in runs.items():
            started = time.perf_counter()
            estimate = run().estimate
            seconds = time.perf_counter() - started
            m = evaluate(clean, estimate)
            scores.setdefault(name, []).append((m["si_sdr"], m["estoi"], seconds))
    print(
        f"{args.minutes:g} min of the bundled clips cycled, {args.model}, MCEM-MH, "
        f"{args.em_iters} EM iterations (else the papers' schedule), segments of "
        f"{plan.segment_s:g} s / {plan.overlap_s:g} s overlap, seeds {args.seeds}; noisy: "
        f"SI-SDR {noisy_m['si_sdr']:.2f} dB, ESTOI {noisy_m['estoi']:.3f}\n"
    )
    print(markdown_header("noise model", "SI-SDR dB", "per seed", "ESTOI", "s", align="lrrrr"))
    for name, rows in scores.items():
        si = [r[0] for r in rows]
        print(markdown_row(
            name, f"{statistics.mean(si):.2f}", " / ".join(f"{v:.2f}" for v in si),
            f"{np.mean([r[1] for r in rows]):.3f}", f"{np.mean([r[2] for r in rows]):.0f}",
        ))  # fmt: skip


if __name__ == "__main__":
    main()
