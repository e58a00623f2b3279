"""MIN-VAE with lips from each start of its chains against the A-VAE, on real speech with lips.

Mixtures (one set per run): the real test utterances of a speech kit (speakers no bundled model
heard, with the kit's lips) under the noise bank's real ambience (``city``, ``night``, ``tv``, in
turn) at ``--snr``; or, with ``--realspeech``, the real-speech benchmark's held-out French,
Italian and Russian prompts (``_realspeech.py``'s choice) under the same ambience, their lips
rendered from the transcript aligned in the prompt's own language (``--lips-language own``,
TTS + DTW) or in English as ``avgen data lips --text`` does (``--lips-language en``, as issue 16
measured; where pocketsphinx's English letter-to-sound fails on a foreign word, English TTS +
DTW); or, with ``--samples``, the bundled sample clips (``avgen/assets/samples``). Every
system runs on the same mixtures with the same seed (0): the A-VAE default, and MIN-VAE from each
``--systems`` (``min-vae:INIT``; ``switch``: :mod:`avgen.pipelines.vae_nmf.switch`, ``switch@N``
switching at E-step N; a ``+adapt`` suffix adds the adapted random-walk step,
``EMSchedule.mh_adapt = 0.3``). SI-SDR, ESTOI, PESQ-WB: mean ± 95 % Student-t half-width, and the
paired difference to the A-VAE. One thread.

    PYTHONPATH=. python benchmarks/minvae_starts.py --kit /work/data/speechkit-small \\
        --mixtures 15 --snr 0 --json out.json [--min-vae CHECKPOINT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from avgen.data.kit.mixing import mix_at_snr
from avgen.data.noise.catalogue import noise_type
from avgen.data.noise.real import read_ufoai
from avgen.data.speech.plan import keyed_rng
from avgen.evaluation import mean_ci
from avgen.metrics import evaluate
from avgen.models import load_model
from avgen.pipelines.vae_nmf import EMSchedule, enhance

from _bench import markdown_header, markdown_row

METRICS = ("si_sdr", "estoi", "pesq_wb")
NOISES = ("city", "night", "tv")
SAMPLES = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "samples"


def kit_mixtures(kit: Path, n: int, snr: float, max_seconds: float) -> list[dict]:
    rows = [json.loads(line) for line in (kit / "utterances.jsonl").open()]
    real = [
        r
        for r in rows
        if r["split"] == "test" and r["real"] and r.get("lips") and r["duration"] <= max_seconds
    ]
    beds = {
        name: np.concatenate([c.waveform for c in read_ufoai(noise_type(name).recordings)])
        for name in NOISES
    }
    out = []
    for i in range(n):
        u, name = real[i % len(real)], NOISES[i % len(NOISES)]
        clean, _ = sf.read(kit / u["wav"], dtype="float32")
        rng = keyed_rng(0, "minvae-starts", name, f"{snr:g}", u["id"])
        mixed = mix_at_snr(clean, beds[name], snr, rng=rng)
        out.append(
            {
                "id": f"{u['id']}_{name}_{snr:+g}dB",
                "clean": mixed.clean.astype(np.float32),
                "noisy": mixed.noisy.astype(np.float32),
                "lips": np.load(kit / u["lips"]),
            }
        )
    return out


def realspeech_mixtures(n: int, snr: float, lips_language: str) -> list[dict]:
    """``_realspeech.utterances``' prompts (same choice), with their transcripts, mixed like
    :func:`kit_mixtures`; lips rendered from the aligned transcript."""
    from avgen.data.kit.heldout import HELDOUT_LANGUAGES, unused_prompts
    from avgen.data.lips.video import render_lip_video
    from avgen.data.speech import recordings
    from avgen.data.speech.align import align_transcript
    from avgen.errors import DataError

    pools = {language: unused_prompts(language) for language in HELDOUT_LANGUAGES}
    beds = {
        name: np.concatenate([c.waveform for c in read_ufoai(noise_type(name).recordings)])
        for name in NOISES
    }
    out = []
    for i in range(n):
        language = HELDOUT_LANGUAGES[i % len(HELDOUT_LANGUAGES)]
        pool = pools[language]
        rng = keyed_rng(0, "realspeech", str(i))
        for index in rng.permutation(len(pool)):
            clean = recordings.load_prompt(pool[int(index)])
            if clean.size <= 4.5 * 16_000:
                prompt = pool.pop(int(index))
                break
        uid, name = f"{language}-{prompt.name}", NOISES[i % len(NOISES)]
        if lips_language == "own":
            phones = align_transcript(clean, prompt.text, language=language)
        else:  # English alignment (pocketsphinx fails on foreign words: English TTS + DTW)
            try:
                phones = align_transcript(clean, prompt.text, language="en")
            except (KeyError, DataError):
                phones = align_transcript(clean, prompt.text, language="en", method="dtw")
        lips = render_lip_video(phones, clean.size / 16_000, speaker=prompt.speaker_id).frames
        mixed = mix_at_snr(clean, beds[name], snr, rng=keyed_rng(0, "minvae-starts", name, uid))
        out.append(
            {
                "id": f"{uid}_{name}_{snr:+g}dB",
                "clean": mixed.clean.astype(np.float32),
                "noisy": mixed.noisy.astype(np.float32),
                "lips": lips,
            }
        )
    return out


def sample_mixtures() -> list[dict]:
    out = []
    for d in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        out.append(
            {
                "id": f"sample-{d.name}",
                "clean": sf.read(d / "clean.wav", dtype="float32")[0],
                "noisy": sf.read(d / "noisy.wav", dtype="float32")[0],
                "lips": np.load(d / "lips.npy"),
            }
        )
    return out


@torch.no_grad()
def lips_sensitivity(model, mixtures: list[dict]) -> str:
    """Does the visual encoder read the lips? Share of its tanh hidden units at |h| > 0.999, the
    spread of its mean over frames, and how far its mean moves when the lips are replaced by
    uniform noise (0 means the encoder ignores the lips)."""
    from avgen.audio import VAE_STFT
    from avgen.models.vae.networks import lip_side
    from avgen.video_align import lips_for_audio

    encoder, rows = model.visual_encoder, []
    for m in mixtures:
        n = VAE_STFT.n_frames(m["noisy"].size)
        side = lip_side(model.config.lip_dim)
        lips = model.check_lips(lips_for_audio(m["lips"], 25.0, m["noisy"].size, lip_size=side), n)
        hidden = encoder.hidden(encoder.features(lips))
        mean = encoder(lips)[0]
        moved = (encoder(torch.rand_like(lips))[0] - mean).abs().max()
        rows.append(
            (float((hidden.abs() > 0.999).float().mean()), float(mean.std(0).mean()), float(moved))
        )
    sat, spread, moved = (float(np.mean(c)) for c in zip(*rows))
    return (
        f"visual encoder: saturated tanh units {sat:.3f}, mean's std over frames {spread:.3g}, "
        f"max change with random lips {moved:.3g}"
    )


def run(system: str, mixture: dict, models: dict, em_iters: int | None) -> dict:
    if system == "noisy":
        return evaluate(mixture["clean"], mixture["noisy"], metrics=METRICS)
    name, _, init = system.partition(":")
    init, _, flag = init.partition("+")
    init, _, at = init.partition("@")
    schedule = EMSchedule(mh_adapt=0.3 if flag == "adapt" else None)
    if at:
        schedule = schedule.replace(switch_at=int(at))
    if em_iters is not None:
        schedule = schedule.replace(n_iter=em_iters)
    lips = mixture["lips"] if name == "min-vae" else None
    result = enhance(
        torch.from_numpy(mixture["noisy"]),
        models[name],
        lips=lips,
        init=init or None,
        schedule=schedule,
        seed=0,
    )
    scores = evaluate(mixture["clean"], result.estimate.numpy(), metrics=METRICS)
    scores["acceptance"] = result.info["final_acceptance"]
    scores["audio_share"] = result.info.get("switch_audio_share")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=Path("/work/data/speechkit-small"))
    parser.add_argument("--mixtures", type=int, default=15)
    parser.add_argument("--snr", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=5.5)
    parser.add_argument("--samples", action="store_true", help="the bundled clips instead")
    parser.add_argument("--realspeech", action="store_true", help="held-out fr/it/ru prompts")
    parser.add_argument("--lips-language", choices=("own", "en"), default="own")
    parser.add_argument(
        "--systems",
        default="noisy,a-vae,min-vae:visual,min-vae:audio,min-vae:mixture,min-vae:prior,"
        "min-vae:switch,min-vae:switch+adapt",
    )
    parser.add_argument(
        "--min-vae", default="min-vae", help="the MIN-VAE: bundled name or checkpoint path"
    )
    parser.add_argument("--em-iters", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.samples:
        mixtures = sample_mixtures()
    elif args.realspeech:
        mixtures = realspeech_mixtures(args.mixtures, args.snr, args.lips_language)
    else:
        mixtures = kit_mixtures(args.kit, args.mixtures, args.snr, args.max_seconds)
    systems = args.systems.split(",")
    paths = {"a-vae": "a-vae", "min-vae": args.min_vae}
    models = {
        n: load_model(paths[n], expected=n)
        for n in ("a-vae", "min-vae")
        if any(s.startswith(n) for s in systems)
    }
    results: dict[str, dict[str, dict]] = {}
    if args.json is not None and args.json.exists():
        results = json.loads(args.json.read_text())
    for system in systems:
        done = results.setdefault(system, {})
        started = time.perf_counter()
        for m in mixtures:
            if m["id"] not in done:
                done[m["id"]] = run(system, m, models, args.em_iters)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1))
        print(f"{system}: {time.perf_counter() - started:.0f} s", flush=True)

    ids = [m["id"] for m in mixtures]
    print(f"\n{len(ids)} mixtures; seed 0; one thread")
    if "min-vae" in models:
        print(lips_sensitivity(models["min-vae"], mixtures))
    print()
    print(markdown_header("system", *METRICS, *(f"Δ{k} vs a-vae" for k in METRICS), "acc"))
    for system in systems:
        row = [system]
        for k in METRICS:
            m, h = mean_ci([results[system][i][k] for i in ids])
            row.append(f"{m:.2f} ± {h:.2f}" if k != "estoi" else f"{m:.3f} ± {h:.3f}")
        for k in METRICS:
            if "a-vae" in results:
                m, h = mean_ci([results[system][i][k] - results["a-vae"][i][k] for i in ids])
                row.append(f"{m:+.2f} ± {h:.2f}" if k != "estoi" else f"{m:+.3f} ± {h:.3f}")
            else:
                row.append("")
        acc = [results[system][i].get("acceptance") for i in ids]
        row.append("" if None in acc else f"{np.mean(acc):.2f}")
        print(markdown_row(*row))


if __name__ == "__main__":
    main()
