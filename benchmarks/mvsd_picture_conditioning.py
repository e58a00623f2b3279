"""Does the picture condition MVSD's matched output in the right direction? (trained check)

Two very different rooms are simulated with :mod:`avgen.data.rooms` (5 x 4 x 3 m, image sources
only, ray tracing off): a dry one (velvet curtains, tufted carpet; Eyring RT60 0.19 s,
image-source order 8) and a very reverberant one (rough concrete everywhere; Eyring RT60 3.6 s,
order 40, so the response is cut at 0.58 s), each with its rendered picture. A tiny MVSD is
trained on 16 paired 0.6-s items (one noise burst each, then silence; half per room) with the
style loss weighted up (``lambda_style`` 20), no cycle, lr 5e-3 for 150 steps, and the
denoising levels moved up (``p_mean`` -2.0) so that the conditional mean, which carries the
room, is learnt first.
Then one test burst is matched with each picture, with the same sampler noise
(``steps`` = 1: the denoiser's estimate at ``sigma_max``), and the late energy (from 100 ms after
the burst's end) of the two outputs is compared: it must be larger for the reverberant room's
picture.

Measured on one CPU thread, 2026-12-04 (p_mean -2.0): late energy with the dry / the wet
picture (ground truth through the two impulse responses: 1.0e-6 and 232)

=====  ======  ====  =========  =========  =========  ==========
steps  lr      seed  dry        wet        wet / dry  CPU s
=====  ======  ====  =========  =========  =========  ==========
150    5e-3    0     0.002842   0.08893    31.3       140
150    5e-3    1     0.01842    0.1638     8.9        137
150    5e-3    2     0.004298   0.02092    4.9        140
60     1e-2    0     0.3189     0.3089     0.97       62
60     1e-2    1     0.001307   0.2635     202        60
60     1e-2    2     2.586      2.692      1.04       61
=====  ======  ====  =========  =========  =========  ==========

With the defaults (150 steps, lr 5e-3) the direction was right for every seed, by a factor of 5
to 31; with 60 steps (about the one CPU minute a unit test may take) it was right by a clear
margin for one seed in three, the others' outputs still being dominated by noise. Hence a
benchmark, not a unit test (the unit tests check that the picture's paths are wired and carry
gradients: ``tests/models/mvsd/test_mvsd_picture.py``).

    PYTHONPATH=. python benchmarks/mvsd_picture_conditioning.py [--seeds 0 1 2] \
        [--steps 150] [--lr 5e-3]
"""

from __future__ import annotations

import argparse
import time

import torch

from avgen.data.rooms.acoustics import reverberate, simulate_rir
from avgen.data.rooms.picture import render_room
from avgen.data.rooms.spec import SURFACES, RoomSpec
from avgen.models.mvsd.config import MVSDTrainConfig, mvsd_config
from avgen.models.mvsd.train import fit_mvsd
from avgen.models.scene.embedding import picture_tensor

DRY = {s: "curtains_velvet" for s in SURFACES[:4]} | {
    "floor": "carpet_tufted_9.5mm",
    "ceiling": "ceiling_plasterboard",
}
WET = {s: "rough_concrete" for s in SURFACES[:4]} | {
    "floor": "concrete_floor",
    "ceiling": "rough_concrete",
}
ITEM = 9600  # 0.6 s
BURST_END = 2000
LATE = BURST_END + 1600  # 100 ms after the end of the test burst


def room(materials: dict[str, str], order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Impulse response and picture of a 5 x 4 x 3 m room (image sources only)."""
    spec = RoomSpec(
        (5.0, 4.0, 3.0),
        materials,
        (1.5, 2.0, 1.6),
        (3.5, 2.0, 1.3),
        max_order=order,
        ray_tracing=False,
    )
    return torch.from_numpy(simulate_rir(spec)), picture_tensor(render_room(spec))[0]


def burst(gen: torch.Generator) -> torch.Tensor:
    """One Hann-windowed noise burst (50-150 ms, starting in the first 150 ms), then silence."""
    x = torch.zeros(ITEM)
    length = int(torch.randint(800, 2400, (1,), generator=gen))
    start = int(torch.randint(0, 2400, (1,), generator=gen))
    x[start : start + length] = torch.randn(length, generator=gen) * 0.1 * torch.hann_window(length)
    return x


def late_energy(x: torch.Tensor) -> float:
    return float(x[LATE:].square().sum())


def run(seed: int, steps: int, p_mean: float | None, lr: float) -> tuple[float, float, float]:
    rooms = [room(DRY, 8), room(WET, 40)]
    gen = torch.Generator().manual_seed(0)
    paired = []
    for k in range(16):
        rir, picture = rooms[k % 2]
        clean = burst(gen)
        paired.append({"clean": clean, "reverberant": reverberate(clean, rir), "picture": picture})
    test = torch.zeros(4000)
    test[:BURST_END] = torch.randn(BURST_END, generator=gen) * 0.1 * torch.hann_window(BURST_END)
    config = mvsd_config("tiny", tail_seconds=0.5)
    train = MVSDTrainConfig(
        steps=steps,
        batch_size=4,
        crop_seconds=ITEM / 16000,
        lr=lr,
        lr_warmup_steps=5,
        lambda_style=20.0,
        lambda_cycle=0.0,
        ema_decay=0.5,
        p_mean=p_mean,
        seed=seed,
    )
    t0 = time.process_time()
    model = fit_mvsd(paired, None, None, None, config, train, progress=False).model
    cpu = time.process_time() - t0
    dry, wet = (
        late_energy(model.match(test, picture, steps=1, generator=torch.Generator().manual_seed(1)))
        for _, picture in rooms
    )
    return dry, wet, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--p-mean", type=float, default=-2.0)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| seed | late energy, dry picture | late energy, wet picture | wet / dry | CPU s |")
    print("|---|---|---|---|---|")
    right = 0
    for seed in args.seeds:
        dry, wet, cpu = run(seed, args.steps, args.p_mean, args.lr)
        right += wet > dry
        print(f"| {seed} | {dry:.4g} | {wet:.4g} | {wet / max(dry, 1e-30):.3g} | {cpu:.0f} |")
    print(f"\nright direction in {right} of {len(args.seeds)} seeds")


if __name__ == "__main__":
    main()
