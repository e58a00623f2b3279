"""Speed of unsupervised enhancement, and quality against EM iterations.

Part 1 -- real-time factor (processing seconds / audio seconds, median of ``--runs``) of every
scheme of :func:`avgen.pipelines.enhance` with the default schedule (``EMSchedule()``: today
NMF rank 4 and MH 20 steps of which 10 burn-in, the papers' 40/30 for MALA and Langevin; 100 EM
iterations, proposal variance 0.01, final run; hop 256). In
the same process and on the same input, a *reference-style* MCEM loop written after the public
avse-vae ``MCEM_algo.py``: numpy float64 state in (L, T) / (F, T) layout, numpy -> torch -> numpy
around every decoder call, two decoder calls per MH step (proposal, and the current state again),
the retained samples decoded again for the M-step, numpy M-step with the same updates. Both use
the same trained decoder and the same schedule; ``ratio`` = reference seconds / scheme seconds.

Part 2 -- quality against EM iterations: MCEM-MH on ``--items`` test mixtures of a kit (unseen
noise, 0 dB); after iteration k the estimate is the posterior mean from that iteration's E-step
samples (R = 10), scored by SI-SDR, PESQ-WB and ESTOI (means over items).

    flock /tmp/avgen-heavy.lock python benchmarks/enhance_speed.py --model min-vae \
        [--kit /work/kits/full] [--runs 3] [--threads 1]

The input of Part 1 is the bundled demo clip (3.8 s, unseen babble at 0 dB), or ``--noisy``.
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, istft, load_audio, stft
from avgen.models import load_model
from avgen.pipelines.vae_nmf import SCHEMES, EMSchedule, enhance
from avgen.pipelines.vae_nmf.target import initial_latents, prior_target
from avgen.runtime import keep_freed_memory
from avgen.samples import bundled_clip_dir, read_clip
from avgen.video_align import lips_for_audio
from inference.nmf import nmf_variance
from inference.nmf_em import posterior_source_moments

from _bench import markdown_header, markdown_row, median_time_and_result

# ---------------------------------------------------------------------------------------------
# The reference-style MCEM loop (numpy <-> torch at every step, two decoder calls per step)


class CountingDecoder:
    """Counts decoder calls (frames x calls is what costs)."""

    def __init__(self, decoder) -> None:
        self.decoder, self.calls = decoder, 0

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.decoder(z)


def reference_style_mcem(
    noisy: torch.Tensor, decoder, z0: np.ndarray, schedule: EMSchedule, seed: int
) -> tuple[np.ndarray, int]:
    """MCEM in the style of the public reference code; returns (enhanced, decoder calls).

    State and arithmetic as there: numpy float64, (D, N) latents and (F, N) spectra, a float32
    torch round trip around every decoder call, the proposal and the current state decoded at
    every MH step, every retained sample decoded again for the M-step, multiplicative updates
    of H, W, g with exponent 1/2, and a final MH run whose samples give the Wiener estimate.
    """
    counting = CountingDecoder(decoder)
    rng = np.random.default_rng(seed)

    def decode(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return (
                counting(torch.from_numpy(z.T.astype(np.float32)))
                .exp()
                .numpy()
                .T.astype(np.float64)
            )

    X = stft(noisy, VAE_STFT).numpy().astype(np.complex128)  # (F, N)
    X_abs_2 = np.abs(X) ** 2
    F, N = X.shape
    K = schedule.rank
    W = np.maximum(rng.random((F, K)), 1e-3)
    H = np.maximum(rng.random((K, N)), 1e-3)
    H *= X_abs_2.mean() / (W @ H).mean()
    g = np.ones((1, N))
    Z = z0.T.astype(np.float64).copy()  # (D, N)
    D = Z.shape[0]

    def metropolis_hastings(
        Z: np.ndarray, n_steps: int, burn_in: int
    ) -> tuple[np.ndarray, np.ndarray]:
        V_n = W @ H
        kept = []
        for m in range(n_steps):
            Z_new = Z + math.sqrt(schedule.proposal_variance) * rng.standard_normal((D, N))
            V_x = decode(Z) * g + V_n
            V_x_new = decode(Z_new) * g + V_n
            log_ratio = np.sum(
                np.log(V_x) - np.log(V_x_new) + X_abs_2 * (1 / V_x - 1 / V_x_new), axis=0
            ) + 0.5 * np.sum(Z**2 - Z_new**2, axis=0)
            accept = np.log(rng.random(N)) < log_ratio
            Z[:, accept] = Z_new[:, accept]
            if m >= burn_in:
                kept.append(Z.copy())
        return Z, np.stack(kept, -1)  # (D, N, R)

    for _ in range(schedule.n_iter):
        Z, samples = metropolis_hastings(Z, *schedule.steps_for("mcem-mh"))
        V_s = np.stack([decode(samples[..., r]) for r in range(samples.shape[-1])], -1)
        for block in ("H", "W", "g"):
            V_x = V_s * g[..., None] + (W @ H)[..., None]
            A = np.sum(V_x**-1, -1)
            B = X_abs_2 * np.sum(V_x**-2, -1)
            if block == "H":
                H *= ((W.T @ B) / (W.T @ A)) ** 0.5
            elif block == "W":
                W *= ((B @ H.T) / (A @ H.T)) ** 0.5
            else:
                num = np.sum(X_abs_2[..., None] * V_s * V_x**-2, axis=(0, 2))
                den = np.sum(V_s * V_x**-1, axis=(0, 2))
                g *= (num / den) ** 0.5
        norms = W.sum(0)
        W /= norms
        H *= norms[:, None]
    Z, samples = metropolis_hastings(Z, *schedule.steps_for("mcem-mh", final=True))
    V_s = np.stack([decode(samples[..., r]) for r in range(samples.shape[-1])], -1) * g[..., None]
    gain = np.mean(V_s / (V_s + (W @ H)[..., None]), -1)
    estimate = istft(
        torch.from_numpy((gain * X).astype(np.complex64)), VAE_STFT, length=noisy.numel()
    )
    return estimate.numpy(), counting.calls


# ---------------------------------------------------------------------------------------------


def speed_table(
    model,
    noisy,
    lips,
    fps,
    runs: int,
    reference_runs: int,
    seed: int,
    schemes: list[str],
    warmup: int = 1,
    reference_threads: int | None = None,
) -> None:
    duration = noisy.numel() / SAMPLE_RATE
    schedule = EMSchedule()
    n_frames = VAE_STFT.n_frames(noisy.numel())
    print(
        f"input: {duration:.2f} s, {n_frames} frames at hop {VAE_STFT.hop_length}; model "
        f"{model.name}; torch threads {torch.get_num_threads()}; schedule: "
        f"{schedule.describe('mcem-mh')}"
    )
    rows = []
    for scheme in schemes:
        # the first calls of a process pay for allocator growth and lazy initialisation
        # (30 % slower here): `warmup` untimed runs first
        seconds, result = median_time_and_result(
            lambda scheme=scheme: enhance(
                noisy, model, lips=lips, fps=fps, scheme=scheme, seed=seed
            ),
            runs,
            warmup,
        )
        rows.append((scheme, seconds, result.info.get("final_acceptance")))
    # the reference loop, same decoder, same start, same schedule
    lip_frames = None
    if model.uses_lips:
        from avgen.models.vae.networks import lip_side

        lip_frames = lips_for_audio(
            lips, fps, noisy.numel(), lip_size=lip_side(model.config.lip_dim)
        )
    power = stft(noisy, VAE_STFT).abs().square().T.contiguous()
    with torch.no_grad():
        target = prior_target(model, lip_frames, n_frames)
        z0 = initial_latents(model, power, lip_frames, model.default_init).numpy()
    threads = torch.get_num_threads()
    reference_threads = reference_threads or threads
    torch.set_num_threads(reference_threads)
    try:
        ref_seconds, (_, calls) = median_time_and_result(
            lambda: reference_style_mcem(noisy, target.decoder, z0, schedule, seed),
            reference_runs,
            warmup=0,
        )
    finally:
        torch.set_num_threads(threads)
    print()
    print(
        markdown_header(
            "method",
            "median s",
            "real-time factor",
            "x faster than reference",
            "acceptance",
            align="lrrrr",
        )
    )
    for scheme, seconds, acceptance in rows:
        acc = "-" if acceptance is None else f"{acceptance:.2f}"
        print(
            markdown_row(
                scheme,
                f"{seconds:.2f}",
                f"{seconds / duration:.2f}",
                f"{ref_seconds / seconds:.1f}",
                acc,
            )
        )
    print(
        markdown_row(
            f"reference-style MCEM-MH ({calls} decoder calls)",
            f"{ref_seconds:.2f}",
            f"{ref_seconds / duration:.2f}",
            "1.0",
            "-",
        )
    )
    print(
        f"(medians of {runs} runs after {warmup} untimed; torch threads {threads}; "
        f"reference: {reference_runs} run(s) on {reference_threads} thread(s))"
    )


def quality_against_iterations(
    model, kit: Path, n_items: int, checkpoints: list[int], seed: int
) -> None:
    from avgen.evaluation import load_mixture, select_mixtures
    from avgen.metrics import evaluate

    mixtures = select_mixtures(kit, noise="unseen", snrs=[0.0])
    # one per noise type first, then more
    by_type: dict[str, list] = {}
    for m in mixtures:
        by_type.setdefault(m.noise_type, []).append(m)
    chosen = []
    while len(chosen) < n_items and any(by_type.values()):
        for items in by_type.values():
            if items and len(chosen) < n_items:
                chosen.append(items.pop(0))
    scores: dict[int, list[dict]] = {k: [] for k in checkpoints}
    noisy_scores = []
    for mixture in chosen:
        noisy, reference, lips = load_mixture(kit, mixture, 25.0)
        noisy_scores.append(evaluate(reference, noisy))
        x = stft(noisy, VAE_STFT).T.contiguous()
        n_samples = noisy.numel()

        def snapshot(record, state, reference=reference, x=x, n=n_samples) -> None:
            k = record.iteration + 1
            if k not in scores:
                return
            params = state.params
            mean, _ = posterior_source_moments(
                x, state.source_variance, params.gain, nmf_variance(params.W, params.H)
            )
            estimate = istft(
                (mean * params.gain.sqrt().unsqueeze(-1)).T.contiguous(), VAE_STFT, length=n
            )
            scores[k].append(evaluate(reference, estimate))

        enhance(
            noisy,
            model,
            lips=lips,
            fps=25.0,
            seed=seed,
            schedule=EMSchedule(n_iter=max(checkpoints)),
            callbacks=[snapshot],
        )
    print()
    print(
        f"quality against EM iterations ({model.name}, MCEM-MH, {len(chosen)} unseen-noise "
        f"mixtures at 0 dB: {', '.join(sorted({m.noise_type for m in chosen}))}; estimate "
        "from that iteration's R = 10 E-step samples)"
    )
    print(markdown_header("EM iterations", "SI-SDR (dB)", "PESQ-WB", "ESTOI", align="rrrr"))

    def mean(rows, key):
        return statistics.fmean(r[key] for r in rows)

    for label, rows in [("noisy", noisy_scores), *((k, scores[k]) for k in checkpoints)]:
        print(
            markdown_row(
                label,
                f"{mean(rows, 'si_sdr'):.2f}",
                f"{mean(rows, 'pesq_wb'):.2f}",
                f"{mean(rows, 'estoi'):.3f}",
            )
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="min-vae", help="bundled name or checkpoint")
    p.add_argument("--noisy", type=Path, default=None, help="input wav (default: demo clip)")
    p.add_argument("--video", type=Path, default=None, help="its lips (.npy)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--reference-runs", type=int, default=1)
    p.add_argument("--schemes", default=",".join(SCHEMES))
    p.add_argument("--kit", type=Path, default=None, help="kit for part 2 (skipped without)")
    p.add_argument("--items", type=int, default=5)
    p.add_argument("--checkpoints", default="1,2,5,10,20,50,100")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--reference-threads",
        type=int,
        default=None,
        help="torch threads for the reference loop (default: --threads; its small "
        "ops run fastest on 1 here)",
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before each scheme's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-malloc-tuning",
        action="store_true",
        help="leave glibc's allocator at its defaults (see avgen.runtime)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.no_malloc_tuning:
        keep_freed_memory()
    model = load_model(args.model)
    if args.noisy is None:
        noisy, _, lips, fps, _ = read_clip(bundled_clip_dir())
    else:
        from avgen.video_align import read_video

        noisy = load_audio(args.noisy)
        lips, fps = read_video(args.video) if args.video else (None, 25.0)
    speed_table(
        model,
        noisy,
        lips,
        fps,
        args.runs,
        args.reference_runs,
        args.seed,
        args.schemes.split(","),
        args.warmup,
        args.reference_threads,
    )
    if args.kit is not None:
        quality_against_iterations(
            model, args.kit, args.items, [int(k) for k in args.checkpoints.split(",")], args.seed
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
