"""Why the A-VAE + NMF MCEM leaves clicks, whistles and rain almost as they were: measurements.

On the real-speech mixtures of ``_realspeech.py`` (held-out Asterisk prompts with a noise of
``--noises`` at ``--snr``), where the clean speech ``S`` and the noise ``N`` inside ``X = S + N``
are known (STFT of the VAE family: sine window 1024, hop 256), three parts:

``capacity`` -- can each model explain the *noise alone*? Mean Itakura-Saito divergence per bin
``d(P, V) = P/V - log(P/V) - 1`` of ``P = |N|^2`` under (a) the speech model alone,
``V = g_t sigma^2(z_t)`` with ``z_t`` the MAP of ``log p(P_t | z_t, g_t) + log N(z_t; 0, I)``
(100 Adam steps from the encoder's mean, ``g_t`` in closed form ``mean_f P/sigma^2``) and (b)
an IS-NMF of ``P`` alone (rank ``K``, 200 multiplicative updates); the same for ``P = |S|^2``
as the yardstick of "explained". Only the loud frames count (energy within 10 dB of the mean
frame's or above: the clicks, not the floor between them); the NMF is fitted to all frames.
A noise the speech model fits about as well as speech is one the prior "also explains".

``fit`` -- the default run (``enhance``, A-VAE, MCEM-MH, ``EMSchedule()``, seed 0) with the
final E-step's samples kept: ``G = mean_r g v^(r) / (g v^(r) + WH)`` the Wiener gain,
``gv = mean_r g v^(r)`` the posterior speech variance. Reported: the output level over the
input's; the noise left, ``sum |G N|^2 / sum |N|^2``, and the speech kept,
``sum |G S|^2 / sum |S|^2`` (dB); on the noise-dominated bins (``|N|^2 > 10 |S|^2``):
``sum WH / sum |N|^2`` (the NMF's share of the noise power), ``sum gv / sum |N|^2`` (speech
variance the model puts where there is none), and the power-weighted mean gain; the median frame
gain ``g_t`` on noise-dominated frames over that on speech-dominated frames (3x the energy);
and the SI-SDR
of four Wiener filters: as run, with the true ``|N|^2`` in place of ``WH`` (the speech model as
fitted), with the true ``|S|^2`` in place of ``gv`` (the NMF as fitted), and the oracle.

``sweep`` -- NMF rank (``--ranks``), EM iterations (``--iters``) and the chains' start
(``--inits``, e.g. ``prior``): SI-SDR, level, noise left, speech kept.

    python benchmarks/unusual_diagnosis.py --parts capacity fit --noises clicks whistles rain city
    python benchmarks/unusual_diagnosis.py --parts sweep --mixtures 1 --ranks 5 10 20 40
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
from _realspeech import ALL_NOISES, mixtures, utterances

from avgen.audio import VAE_STFT, istft, stft
from avgen.metrics import si_sdr
from avgen.models import load_model
from avgen.pipelines.enhance_file import AUDIO_ONLY_DEFAULT
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from inference.nmf import NMFParams, init_nmf, nmf_step, nmf_variance

from _bench import markdown_header, markdown_row

EPS = 1e-10


def is_divergence(power: torch.Tensor, variance: torch.Tensor) -> float:
    """Mean ``P/V - log(P/V) - 1`` over the bins."""
    ratio = (power + EPS) / (variance + EPS)
    return float((ratio - ratio.log() - 1).mean())


def speech_model_fit(model, power: torch.Tensor, steps: int = 100) -> torch.Tensor:
    """``g_t sigma^2(z_t)`` at the MAP ``z`` of the speech model for ``power`` ``(T, F)``."""
    z = model.encode_audio(power)[0].detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=0.05)
    for _ in range(steps):
        sigma2 = model.decode(z)
        gain = (power / sigma2).mean(-1, keepdim=True).detach()
        variance = gain * sigma2
        loss = (variance.log() + power / variance).sum() + 0.5 * z.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        sigma2 = model.decode(z)
        return (power / sigma2).mean(-1, keepdim=True) * sigma2


def nmf_fit(power: torch.Tensor, rank: int, iters: int = 200, seed: int = 0) -> torch.Tensor:
    """``(W H)^T`` of an IS-NMF of ``power`` ``(T, F)`` alone."""
    params = init_nmf(power, rank, torch.Generator().manual_seed(seed))
    floor = NMFParams(torch.tensor(1e-12), torch.tensor(1e-12), torch.tensor(1.0))
    for _ in range(iters):
        params = nmf_step(power, None, params, floor=floor)
    return nmf_variance(params.W, params.H)


def frames(wave: np.ndarray) -> torch.Tensor:
    """Frames-major complex STFT ``(T, F)``."""
    return stft(torch.from_numpy(wave).double(), VAE_STFT).mT


def capacity_row(model, power: torch.Tensor, rank: int) -> tuple[float, float]:
    """IS divergence on the loud frames (energy within 10 dB of the mean frame's or above) of
    the speech model fitted to them and of an NMF fitted to every frame."""
    energy = power.sum(-1)
    loud = energy >= 0.1 * energy.mean()
    speech = is_divergence(power[loud], speech_model_fit(model, power[loud]))
    return speech, is_divergence(power[loud], nmf_fit(power, rank)[loud])


def wiener_sisdr(gain: torch.Tensor, X: torch.Tensor, clean: np.ndarray) -> float:
    wave = istft((gain * X).mT, VAE_STFT, length=clean.size).numpy()
    return float(si_sdr(clean, wave))


def db(x: float) -> float:
    return 10 * math.log10(max(x, 1e-30))


def part_capacity(model, items, rank: int) -> None:
    print("\n### Capacity: IS divergence per bin of each model fitted to one source alone\n")
    columns = ("speech model, noise", f"NMF K={rank}, noise", "speech model, speech",
               f"NMF K={rank}, speech")  # fmt: skip
    print(markdown_header("noise", "n", *columns, align="lrrrrr"))
    by_noise: dict[str, list[tuple[float, ...]]] = {}
    speech_done: dict[str, tuple[float, float]] = {}
    for m in items:
        N = frames(m.noise).abs().square().float()
        if m.utterance not in speech_done:
            S = frames(m.clean).abs().square().float()
            speech_done[m.utterance] = capacity_row(model, S, rank)
        row = capacity_row(model, N, rank)
        by_noise.setdefault(m.noise_name, []).append(row + speech_done[m.utterance])
    for noise, rows in by_noise.items():
        cols = [statistics.mean(c) for c in zip(*rows)]
        print(markdown_row(noise, len(rows), *(f"{c:.2f}" for c in cols)), flush=True)


def fit_numbers(
    model, m, schedule: EMSchedule, seed: int, init: str | None = None
) -> dict[str, float]:
    t0 = time.perf_counter()
    result = enhance(torch.from_numpy(m.noisy), model, schedule=schedule, seed=seed, init=init,
                     keep_samples=True)  # fmt: skip
    seconds = time.perf_counter() - t0
    X, S, N = frames(m.noisy), frames(m.clean), frames(m.noise)
    PS, PN, PX = S.abs().square(), N.abs().square(), X.abs().square()
    W, H, g = result.noise
    WH = nmf_variance(W, H).double()
    with torch.no_grad():
        sv = model.decode(result.extras["samples"]).double()  # (R, C, T, F)
    sv = sv.reshape(-1, *sv.shape[-2:]) * g.double()[:, None]
    G = (sv / (sv + WH)).mean(0)
    gv = sv.mean(0)
    noisy_bins = PN > 10 * PS
    noise_frames = PN.sum(-1) > 3 * PS.sum(-1)
    speech_frames = PS.sum(-1) > 3 * PN.sum(-1)
    g64 = g.double()
    gain_ratio = (
        float(g64[noise_frames].median() / g64[speech_frames].median())
        if noise_frames.any() and speech_frames.any()
        else float("nan")
    )
    estimate = result.estimate.numpy().astype(np.float64)
    return {
        "si_sdr": float(si_sdr(m.clean, estimate)),
        "noisy_si_sdr": float(si_sdr(m.clean, m.noisy)),
        "level": db(float(np.sum(estimate**2) / np.sum(m.noisy.astype(np.float64) ** 2))),
        "noise_left": db(float((G.square() * PN).sum() / PN.sum())),
        "speech_kept": db(float((G.square() * PS).sum() / PS.sum())),
        "nmf_share": float(WH[noisy_bins].sum() / PN[noisy_bins].sum()),
        "speech_var": float(gv[noisy_bins].sum() / PN[noisy_bins].sum()),
        "gain_noise_bins": float((G * PX)[noisy_bins].sum() / PX[noisy_bins].sum()),
        "noisy_bin_share": float(noisy_bins.double().mean()),
        "gain_ratio": gain_ratio,
        "sdr_run": wiener_sisdr(G, X, m.clean),
        "sdr_true_noise": wiener_sisdr((sv / (sv + PN)).mean(0), X, m.clean),
        "sdr_true_speech": wiener_sisdr(PS / (PS + WH), X, m.clean),
        "sdr_oracle": wiener_sisdr(PS / (PS + PN), X, m.clean),
        "rtf": seconds / (m.noisy.size / 16_000),
    }


FIT_COLUMNS = (
    ("noisy_si_sdr", "noisy SI-SDR", "{:.2f}"),
    ("si_sdr", "A-VAE SI-SDR", "{:.2f}"),
    ("level", "level (dB)", "{:+.1f}"),
    ("noise_left", "noise left (dB)", "{:+.1f}"),
    ("speech_kept", "speech kept (dB)", "{:+.1f}"),
    ("noisy_bin_share", "noise-dominated bins", "{:.2f}"),
    ("nmf_share", "WH / noise power there", "{:.2f}"),
    ("speech_var", "gv / noise power there", "{:.2f}"),
    ("gain_noise_bins", "mean G there", "{:.2f}"),
    ("gain_ratio", "median g, noise frames / speech frames", "{:.2f}"),
    ("sdr_true_noise", "SI-SDR, true noise power for WH", "{:.2f}"),
    ("sdr_true_speech", "SI-SDR, true speech power for gv", "{:.2f}"),
    ("sdr_oracle", "oracle Wiener SI-SDR", "{:.2f}"),
)


def part_fit(model, items, seed: int) -> None:
    print("\n### The default run, taken apart (means over the mixtures)\n")
    print(markdown_header("noise", "n", *(c[1] for c in FIT_COLUMNS), align="l" + "r" * 20))
    by_noise: dict[str, list[dict[str, float]]] = {}
    for m in items:
        by_noise.setdefault(m.noise_name, []).append(fit_numbers(model, m, EMSchedule(), seed))
    for noise, rows in by_noise.items():
        cells = [fmt.format(statistics.mean(r[k] for r in rows)) for k, _, fmt in FIT_COLUMNS]
        print(markdown_row(noise, len(rows), *cells), flush=True)


def part_sweep(
    model, items, ranks: list[int], iters: list[int], inits: list[str], seed: int
) -> None:
    print("\n### NMF rank and EM iterations (means over the mixtures)\n")
    columns = ("rank", "EM iterations", "init", "SI-SDR", "level (dB)", "noise left (dB)",
               "speech kept (dB)", "RTF")  # fmt: skip
    print(markdown_header("noise", "n", *columns, align="lrrrlrrrrr"))
    settings = [(r, 100, None) for r in ranks] + [(10, i, None) for i in iters if i != 100]
    settings += [(10, 100, init) for init in inits]
    by_noise: dict[str, list] = {}
    for m in items:
        by_noise.setdefault(m.noise_name, []).append(m)
    for noise, mine in by_noise.items():
        for rank, n_iter, init in settings:
            schedule = EMSchedule(rank=rank, n_iter=n_iter)
            rows = [fit_numbers(model, m, schedule, seed, init) for m in mine]
            keys = ("si_sdr", "level", "noise_left", "speech_kept", "rtf")
            means = [statistics.mean(r[k] for r in rows) for k in keys]
            label = init or model.default_init
            print(markdown_row(noise, len(rows), rank, n_iter, label, f"{means[0]:.2f}",
                               *(f"{v:+.1f}" for v in means[1:4]), f"{means[4]:.2f}"),
                  flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["capacity", "fit"],
                        choices=("capacity", "fit", "sweep"))  # fmt: skip
    parser.add_argument("--noises", nargs="+", default=["clicks", "whistles", "rain", "city"],
                        choices=ALL_NOISES)  # fmt: skip
    parser.add_argument("--mixtures", type=int, default=3)
    parser.add_argument("--snr", type=float, default=0.0)
    parser.add_argument("--rank", type=int, default=10, help="NMF rank of the capacity part")
    parser.add_argument("--ranks", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--iters", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--inits", nargs="*", default=[], help="other chain starts (rank 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_model(AUDIO_ONLY_DEFAULT)
    speech = utterances(args.mixtures, seed=args.seed)
    items = mixtures(speech, tuple(args.noises), (args.snr,), seed=args.seed)
    print(f"{len(items)} mixtures at {args.snr:+g} dB, A-VAE, seed {args.seed}")
    if "capacity" in args.parts:
        part_capacity(model, items, args.rank)
    if "fit" in args.parts:
        part_fit(model, items, args.seed)
    if "sweep" in args.parts:
        part_sweep(model, items, args.ranks, args.iters, args.inits, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
