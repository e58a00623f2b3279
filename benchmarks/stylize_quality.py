"""Soundscape stylization on a scene kit: the stylizer against its baselines and ablations, on
scenes seen in training (new speech, new stretches of ambience) and on scenes never seen, with
95 % intervals.

Stages (each caches what it makes in ``--work``; rerunning skips what exists):

* ``train --variant V``: ``full`` (content = the known dry speech + 1 % Gaussian noise against
  "audio nostalgia"), ``enhanced`` (content = the clip enhanced by the library's audio-only
  default, the paper's recipe), ``no-noise`` (dry content, no added noise). The same steps for
  every variant: the budget is held equal.
* ``eval``: the table, one block per split.

Systems: the input unchanged; the signal-processing baseline (blind RT60 of the example ->
synthetic RIR, plus the example's speech-free ambience re-looped at its level:
:func:`avgen.baselines.stylize_dsp.dsp_stylize`); MVSD's reverberator with the picture
(reverb only, no ambience; cut to the input's length); the stylizer with audio + picture at
guidance scales 0 (the unconditional model), 1 (the conditional model, no guidance), 2, 3, 4;
audio-only and picture-only conditions (guidance 2); the variants above (guidance 2).

Metrics (:mod:`avgen.evaluators.stylization`): STFT distance (AViTAR's MSE of |STFT|) and
log-mel distance (dB) to the synthesized true clip (the input speech rendered in the example's
scene with a fresh stretch of its ambience); RTE (s) twice: "amb." with the blind RT60
estimator trained through ambience (``avgen/assets/stylize/rt60-estimator-ambient.pt``: the
only one that reads open air, rooms within 0.15-0.20 s at any SNR) and "den." with
MVSD's estimator on Wiener-enhanced clips (the raw one reads ambience as reverberation; see
:mod:`avgen.evaluators.stylization`); ambience match in the space of the encoder trained on
the noise bank (no pretrained FAD embedding is available offline): the Fréchet distance of
patch embeddings to the targets' (set-level, no interval), the per-clip cosine distance to
the target's embedding, and the accuracy of the encoder's ambience-type classifier; WER of
pocketsphinx en-us on the English clips (the "input unchanged" row is the input's WER; clips
are 2 s cuts of longer sentences: every row reads the same cut).

``--inputs speech,nonspeech`` adds a block per split whose inputs are procedural non-speech
sounds (notes and chords, whistles and chirps, typing clicks, a harmonic machine) rendered
into the same scenes with the same responses and ambience stretches
(:func:`avgen.data.scenes.pairs.stylize_test_items` with ``inputs="nonspeech"``): the
stylizers were trained on speech content only. No WER there.

    python benchmarks/stylize_quality.py --kit SCENEKIT --work WORK --stage train --variant full
    python benchmarks/stylize_quality.py --kit SCENEKIT --work WORK --stage eval
    python benchmarks/stylize_quality.py --kit SCENEKIT --work WORK --stage eval --inputs nonspeech
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _bench import markdown_header, markdown_row

VARIANTS = {
    "full": {"content": "dry", "noise_std": 0.01},
    "enhanced": {"content": "enhanced", "noise_std": 0.01},
    "no-noise": {"content": "dry", "noise_std": 0.0},
}


def train(kit: Path, work: Path, variant: str, steps: int, ae_steps: int, seed: int) -> None:
    from avgen.models.stylizer.kit import train_from_scene_kit

    out = work / f"stylizer-{variant}.pt"
    if out.exists():
        print(f"{out} exists: skipped")
        return
    ae = work / "stylizer-full.pt" if variant != "full" else None
    start = time.perf_counter()
    fit = train_from_scene_kit(
        kit, out, size="tiny", steps=steps, ae_steps=ae_steps, seed=seed,
        autoencoder_from=ae if ae is not None and ae.exists() else None,
        **VARIANTS[variant],
    )  # fmt: skip
    minutes = (time.perf_counter() - start) / 60
    last = sum(h["loss"] for h in fit.history[-50:]) / max(len(fit.history[-50:]), 1)
    print(
        f"{variant}: {steps} steps in {minutes:.1f} min; mean loss of the last 50 steps {last:.4f}"
    )
    print(f"validation: {fit.validation}; autoencoder round trip: {fit.round_trip}")


def english_texts(kit: Path) -> dict[str, str | None]:
    """clip id -> its transcript when it holds one English utterance (else ``None``)."""
    from avgen.data.kit.records import UtteranceRecord, read_jsonl
    from avgen.data.scenes.dataset import read_scene_kit

    scene_kit = read_scene_kit(kit)
    speech = Path(scene_kit.info.speech_kit) / "utterances.jsonl"
    language = {r.id: r.language for r in read_jsonl(speech, UtteranceRecord)}
    return {
        clip.id: clip.texts[0]
        if len(clip.utterances) == 1 and language.get(clip.utterances[0]) == "en"
        else None
        for clip in scene_kit.clips.values()
    }


def systems(work: Path, guidances: list[float]) -> dict[str, Any]:
    """name -> function(item, seed) -> waveform (the input's length)."""
    from avgen.baselines.stylize_dsp import dsp_stylize
    from avgen.models.stylizer.checkpoints import load_stylizer
    from avgen.pipelines.scene.mvsd import load_mvsd_model

    out: dict[str, Any] = {
        "input unchanged": lambda it, seed: it.content,
        "DSP: blind RT60 -> RIR + re-looped ambience": lambda it, seed: dsp_stylize(
            it.content, it.example, seed=seed
        ),
    }
    mvsd = load_mvsd_model(None)

    def reverberator(it: Any, seed: int) -> torch.Tensor:
        peak = it.content.abs().max()
        with torch.no_grad():
            y = mvsd.match(it.content / peak, it.picture[None], steps=12,
                           generator=torch.Generator().manual_seed(seed))  # fmt: skip
        return y.reshape(-1)[: it.content.numel()] * peak

    out["MVSD reverberator (picture; no ambience)"] = reverberator

    def stylizer_system(path: Path, audio: bool, picture: bool, w: float):
        model = load_stylizer(path).eval()

        def run(it: Any, seed: int) -> torch.Tensor:
            peak = it.content.abs().max()
            ex = it.example / it.example.abs().max() if audio else None
            with torch.no_grad():
                y = model.stylize(it.content / peak, ex, it.picture if picture else None,
                                  guidance=w, steps=12, seed=seed)  # fmt: skip
            return y.reshape(-1) * peak

        return run

    full = work / "stylizer-full.pt"
    if full.exists():
        for w in guidances:
            out[f"stylizer, audio + picture, guidance {w:g}"] = stylizer_system(full, True, True, w)
        out["stylizer, audio only, guidance 2"] = stylizer_system(full, True, False, 2.0)
        out["stylizer, picture only, guidance 2"] = stylizer_system(full, False, True, 2.0)
    for variant in ("enhanced", "no-noise"):
        path = work / f"stylizer-{variant}.pt"
        if path.exists():
            out[f"stylizer trained on {variant} content, guidance 2"] = stylizer_system(
                path, True, True, 2.0
            )
    return out


def ci(scores: dict[str, Any], key: str, fmt: str = "{:.3f}") -> str:
    """Mean ± the half-width of its 95 % interval over the finite per-clip values."""
    from avgen.models.scene.regression import mean_interval

    x = np.asarray(scores[key], dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return "-"
    m, h = mean_interval(x)
    return f"{fmt.format(m)} ± {fmt.format(h)}"


def evaluate(kit: Path, work: Path, splits: list[str], guidances: list[float], items: int,
             seed: int, only: str | None = None,
             inputs: tuple[str, ...] = ("speech",)) -> None:  # fmt: skip
    from avgen.data.scenes.pairs import stylize_test_items
    from avgen.evaluators.stylization import score_stylization

    texts = english_texts(kit)
    table = systems(work, guidances)
    if only:
        table = {k: v for k, v in table.items() if any(w in k for w in only.split(","))}
    results: dict[str, Any] = {}
    for split, kind in [(s, k) for k in inputs for s in splits]:
        test = stylize_test_items(kit, split, inputs=kind, seed=seed)
        if items and len(test) > items:
            keep = np.random.default_rng(seed).permutation(len(test))[:items]
            test = [test[i] for i in sorted(keep)]
        block = split if kind == "speech" else f"{split}, non-speech inputs"
        print(f"\n### {block}: {len(test)} items, scenes never seen: {not test[0].seen}\n")
        columns = ("system", "STFT dist", "log-mel dB", "RTE amb. (s)", "RTE den. (s)", "amb. FD",
                   "amb. cos dist", "amb. acc", "WER", "RTF")  # fmt: skip
        print(markdown_header(*columns))
        results[block] = {}
        for name, fn in table.items():
            start = time.perf_counter()
            preds = [fn(it, seed + k).detach().float() for k, it in enumerate(test)]
            rtf = (time.perf_counter() - start) / sum(it.content.numel() / 16000 for it in test)
            if not all(torch.isfinite(p).all() for p in preds):
                print(markdown_row(name, "non-finite output"))
                continue
            scores = score_stylization(
                preds, [it.target for it in test], [it.example for it in test],
                [it.ambience for it in test],
                transcripts=[
                    texts.get(it.input_clip) if it.source == "speech" else None for it in test
                ],
            )  # fmt: skip

            row = markdown_row(
                name,
                ci(scores, "stft_distance", "{:.4f}"),
                ci(scores, "log_mel_distance", "{:.1f}"),
                ci(scores, "rt60_error"),
                ci(scores, "rt60_error_denoised_bundled"),
                f"{scores['frechet_distance']:.1f}",
                ci(scores, "embedding_distance"),
                f"{scores['ambience_accuracy']:.2f}",
                ci(scores, "wer", "{:.2f}"),
                f"{rtf:.2f}",
            )
            print(row)
            results[block][name] = {
                k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in scores.items()
            }
    tag = "-".join(splits) + "".join(f"-{k}" for k in inputs if k != "speech")
    tag += f"-{only.replace(',', '+').replace(' ', '_')}" if only else ""
    path = work / f"eval-{tag}.json"
    path.write_text(json.dumps(results, indent=1, default=lambda x: None if x != x else x))
    print(f"\nper-clip scores: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--stage", choices=("train", "eval"), required=True)
    parser.add_argument("--variant", choices=tuple(VARIANTS), default="full")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--ae-steps", type=int, default=300)
    parser.add_argument("--splits", default="test-unseen,test-seen")
    parser.add_argument("--guidance", default="0,1,2,3,4")
    parser.add_argument("--items", type=int, default=0, help="items per split (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only", default=None, help="eval: the systems whose names contain one of these words"
    )
    parser.add_argument(
        "--inputs", default="speech", help="eval: comma-separated, of speech and nonspeech"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from avgen.data.scenes.pairs import TEST_INPUTS

    unknown = sorted(set(args.inputs.split(",")) - set(TEST_INPUTS))
    if unknown:
        known = ", ".join(TEST_INPUTS)
        parser.error(f"--inputs: unknown {', '.join(unknown)}; choose from {known}")
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "train":
        train(args.kit, args.work, args.variant, args.steps, args.ae_steps, args.seed)
    else:
        guidances = [float(g) for g in args.guidance.split(",")]
        evaluate(args.kit, args.work, args.splits.split(","), guidances, args.items, args.seed,
                 args.only, tuple(args.inputs.split(",")))  # fmt: skip


if __name__ == "__main__":
    main()
