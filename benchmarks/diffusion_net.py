"""Diffusion U-Net sizes and speed: parameters, file size, forward / forward+backward time,
training steps per second (EDM loss + AdamW + EMA), and the room operator's cost.

Run heavy, on an otherwise idle machine::

    flock /tmp/avgen-heavy.lock python benchmarks/diffusion_net.py --threads 2 --repeats 5

Times are medians over ``--repeats`` runs after one warm-up; ratios are against ``tiny`` in the
same process.
"""

from __future__ import annotations

import argparse
import io

import torch

from avgen.models.diffusion import SIZES, DiffusionTrainConfig, UNet, count_parameters
from avgen.models.diffusion.ema import EMA
from avgen.models.reverb import RoomOperator
from avgen.seeding import torch_generator
from inference.diffusion.precond import EDMDenoiser, edm_loss

from _bench import median_time


def state_dict_megabytes(net: torch.nn.Module) -> float:
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    return buf.tell() / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small", "base"])
    parser.add_argument(
        "--base-batch", type=int, default=1, help="batch for the base size (CPU memory and time)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")

    rows = []
    for size in args.sizes:
        train_cfg = DiffusionTrainConfig.for_size(size)
        batch = args.base_batch if size == "base" else train_cfg.batch_size
        frames = train_cfg.segment_frames
        net = UNet(SIZES[size])
        den = EDMDenoiser(net, sigma_data=0.06)
        x0 = 0.06 * torch.randn(batch, 2, 256, frames)
        sigma = torch.full((batch,), 0.1)

        def forward(den=den, x0=x0, sigma=sigma):
            with torch.no_grad():
                den(x0, sigma)

        def forward_backward(den=den, x0=x0, sigma=sigma):
            den.zero_grad(set_to_none=True)
            den(x0, sigma).square().mean().backward()

        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        ema = EMA(net, 0.999)
        counter = [0]

        def train_step(den=den, x0=x0, opt=opt, ema=ema, net=net, counter=counter):
            gen = torch_generator(counter[0])
            loss = edm_loss(den, x0, generator=gen, p_mean=-2.3)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            ema.update(net, counter[0])
            counter[0] += 1

        t_f = median_time(forward, args.repeats)
        t_fb = median_time(forward_backward, args.repeats)
        t_step = median_time(train_step, args.repeats)
        rows.append(
            (
                size,
                count_parameters(net),
                state_dict_megabytes(net),
                batch,
                frames,
                t_f,
                t_fb,
                t_step,
            )
        )

    ref = {r[0]: r for r in rows}.get("tiny", rows[0])
    print()
    print(
        f"{'size':6} {'params':>11} {'MB':>6} {'batch x frames':>15} {'fwd s':>8} "
        f"{'fwd+bwd s':>10} {'step s':>8} {'steps/s':>8} {'step/tiny':>10}"
    )
    for size, n, mb, b, f, t_f, t_fb, t_step in rows:
        print(
            f"{size:6} {n:>11,} {mb:>6.2f} {f'{b} x {f}':>15} {t_f:>8.3f} {t_fb:>10.3f} "
            f"{t_step:>8.3f} {1 / t_step:>8.3f} {t_step / ref[7]:>10.1f}"
        )

    print()
    op = RoomOperator(0.5, seed=0)
    wav = 0.05 * torch.randn(32_640)
    from avgen.audio import DIFFUSION_STFT, compress, stft

    spec = compress(stft(wav, DIFFUSION_STFT)).requires_grad_(True)

    def operator_forward_backward():
        op.zero_grad(set_to_none=True)
        y = op.forward_stft(spec)
        (y.real.square() + y.imag.square()).mean().backward()

    t_rir = median_time(lambda: op.rir(), args.repeats)
    t_op = median_time(operator_forward_backward, args.repeats)
    print(
        f"room operator (1 s RIR, 6 bands): rir() {t_rir * 1e3:.1f} ms, "
        f"forward_stft + backward on 2.04 s {t_op * 1e3:.1f} ms "
        f"({t_op / t_rir:.1f} x rir())"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
