"""MVSD on a room kit: visual acoustic matching and dereverberation against their baselines and
ablations, on rooms seen in training (unseen speech) and on rooms never seen, with 95 % intervals.

Stages (each caches what it trains in ``--work``; rerunning skips what exists):

* ``scene``: the blind RT60 estimator that defines RTE (AViTAR's ResNet-18 on log1p |STFT|,
  trained on the kit's training reverberant speech, labels measured on the RIRs) and the picture
  -> acoustics head of the Image2Reverb-like baseline (trained on the training viewpoints'
  pictures); both reported on test-unseen against the constant (training-mean) predictor.
* ``train --variant V``: ``mvsd`` (full), ``mvsd-no-picture``, ``mvsd-no-unpaired`` (the same
  steps: the training budget is held equal), ``av-unet`` (the deterministic audio-visual U-Net
  trained by regression). Run variants in separate processes to use both cores.
* ``eval``: the tables.

VAM systems: the input unchanged (the dry speech), Image2Reverb-like (picture -> band RT60/DRR ->
synthetic RIR, convolved), AV U-Net, MVSD without the picture, MVSD without unpaired data, MVSD.
Metrics: STFT distance (AViTAR's MSE of |STFT|, n_fft 512 / hop 160 / win 400, Hamming, on peak-
normalised signals), RTE (seconds, the blind estimator above), MOS difference
(|OVRL(output) - OVRL(target)| of DNSMOS from the ``speechmos`` wheel: a stand-in for the
paper's MOSNet, not installable offline).

Dereverberation systems: the reverberant input, WPE (single channel), the library's blind
diffusion dereverberation (an unconditional speech prior + a room operator, on ``--blind-items``
items only: it is slow), MVSD's dereverberator without the picture, MVSD. Metrics on the
utterance's own samples (the tail of silence cut): PESQ-WB, ESTOI, SI-SDR against the dry
speech; WER of pocketsphinx en-us on the English utterances (transcripts from the speech kit);
speaker EER of resemblyzer embeddings, trials = every (output, dry reference of another item)
pair, same speaker or not.

    python benchmarks/mvsd_quality.py --kit ROOMKIT --work WORK --stage scene
    python benchmarks/mvsd_quality.py --kit ROOMKIT --work WORK --stage train --variant mvsd
    python benchmarks/mvsd_quality.py --kit ROOMKIT --work WORK --stage eval [--items 24]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _bench import markdown_header, markdown_row

VARIANTS = ("mvsd", "mvsd-no-picture", "mvsd-no-unpaired", "av-unet")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def split_items(kit: Path, split: str, limit: int | None, seed: int = 0) -> list[dict]:
    """Paired items of ``split``; ``limit`` of them drawn evenly over rooms (seeded)."""
    from avgen.models.mvsd.kit import paired_items

    items = paired_items(kit, split)
    if limit is not None and len(items) > limit:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(items))
        by_room: dict[str, list[int]] = {}
        for i in order:
            by_room.setdefault(items[i]["room"], []).append(int(i))
        picked: list[int] = []
        while len(picked) < limit:
            for idxs in by_room.values():
                if idxs and len(picked) < limit:
                    picked.append(idxs.pop())
        items = [items[i] for i in sorted(picked)]
    return items


def texts(kit: Path) -> dict[str, tuple[str, str]]:
    """utterance id -> (text, language) from the room kit's speech kit."""
    from avgen.data.kit.records import UtteranceRecord, read_jsonl
    from avgen.data.rooms.dataset import read_room_kit

    speech = Path(read_room_kit(kit, check_files=False).info.speech_kit)
    if not (speech / "utterances.jsonl").exists():
        return {}
    return {
        r.id: (r.text, r.language) for r in read_jsonl(speech / "utterances.jsonl", UtteranceRecord)
    }


def kit_utterance_ids(kit: Path, split: str) -> dict[str, tuple[str, str]]:
    """item id -> (utterance id, speaker) of a split."""
    from avgen.data.rooms.dataset import read_room_kit

    return {i.id: (i.utterance, i.speaker) for i in read_room_kit(kit).items[split]}


def ci(values: list[float], digits: int = 3) -> str:
    from avgen.evaluation import mean_ci

    m, h = mean_ci(values)
    if not math.isfinite(m):
        return "-"
    return f"{m:.{digits}f} ± {h:.{digits}f}" if math.isfinite(h) else f"{m:.{digits}f}"


# ---------------------------------------------------------------------------------------------
# Stage: scene models
# ---------------------------------------------------------------------------------------------


def stage_scene(args: argparse.Namespace) -> None:
    from avgen.data.rooms.dataset import read_room_kit
    from avgen.models.mvsd.kit import kit_items, paired_items
    from avgen.models.scene.acoustic_head import (
        SceneAcousticsConfig,
        fit_scene_acoustics,
        save_scene_acoustics,
    )
    from avgen.models.scene.embedding import picture_tensor
    from avgen.models.scene.encoder import SceneEncoderConfig
    from avgen.models.scene.regression import RegressionTrainConfig
    from avgen.models.scene.rt60_estimator import (
        Rt60EstimatorConfig,
        fit_rt60_estimator,
        save_rt60_estimator,
    )

    work = args.work
    kit = read_room_kit(args.kit)
    test = paired_items(args.kit, "test-unseen")
    if not (work / "rt60-estimator.pt").exists():
        items = kit_items(args.kit)
        paired = items.paired
        waves = [it["reverberant"] for it in paired]
        rt60s = torch.stack([it["labels"]["rt60"] for it in paired])
        t0 = time.perf_counter()
        fit = fit_rt60_estimator(
            waves,
            rt60s,
            Rt60EstimatorConfig(width=4),
            seed=args.seed,
            progress=True,
            train=RegressionTrainConfig(steps=args.estimator_steps),
        )
        save_rt60_estimator(work / "rt60-estimator.pt", fit.model)
        print(f"rt60 estimator trained in {time.perf_counter() - t0:.0f} s")
    if not (work / "scene-acoustics.pt").exists():
        views = [v for v in kit.viewpoints.values() if v.seen]
        from avgen.data.rooms.kit import load_picture

        pictures = torch.cat([picture_tensor(load_picture(kit.path(v.picture))) for v in views])
        bands = sorted(views[0].rt60_bands, key=float)
        labels = torch.tensor(
            [[v.rt60_bands[b] for b in bands] + [v.drr_db] for v in views], dtype=torch.float32
        )
        t0 = time.perf_counter()
        fit = fit_scene_acoustics(
            pictures,
            labels,
            SceneAcousticsConfig(encoder=SceneEncoderConfig(width=8)),
            seed=args.seed,
            progress=True,
            train=RegressionTrainConfig(steps=args.head_steps),
        )
        save_scene_acoustics(work / "scene-acoustics.pt", fit.model)
        print(f"scene acoustics head trained in {time.perf_counter() - t0:.0f} s")
    report_scene(args, test)


def report_scene(args: argparse.Namespace, test: list[dict]) -> dict[str, Any]:
    from avgen.models.scene.acoustic_head import load_scene_acoustics
    from avgen.models.scene.rt60_estimator import load_rt60_estimator

    est = load_rt60_estimator(args.work / "rt60-estimator.pt")
    head = load_scene_acoustics(args.work / "scene-acoustics.pt")
    true = np.array([float(it["labels"]["rt60"]) for it in test])
    pred = np.array([est.estimate(it["reverberant"]) for it in test])
    mean_pred = float(est.label_mean[0])
    pics = torch.stack([it["picture"] for it in test])
    with torch.no_grad():
        h = head.predict(pics).numpy()
    band_true = np.stack([it["labels"]["rt60_bands"].numpy() for it in test])
    drr_true = np.array([float(it["labels"]["drr_db"]) for it in test])
    train_mean = head.label_mean.numpy()  # the training set mean: the constant predictor
    rows = {
        "estimator_mae": list(np.abs(pred - true)),
        "estimator_mean_predictor_mae": list(np.abs(mean_pred - true)),
        "head_rt60_mae": list(np.abs(h[:, :-1] - band_true).mean(axis=1)),
        "head_drr_mae": list(np.abs(h[:, -1] - drr_true)),
        "head_rt60_mean_predictor_mae": list(np.abs(train_mean[None, :-1] - band_true).mean(1)),
        "head_drr_mean_predictor_mae": list(np.abs(train_mean[-1] - drr_true)),
    }
    print()
    print(f"Scene models on test-unseen ({len(test)} items of rooms never seen)")
    print(markdown_header(*["model", "MAE", "constant (training mean)"]))
    print(markdown_row(*["blind RT60 estimator (s)", ci(rows["estimator_mae"]),
                        ci(rows["estimator_mean_predictor_mae"])]))  # fmt: skip
    print(markdown_row(*["picture -> band RT60 (s)", ci(rows["head_rt60_mae"]),
                        ci(rows["head_rt60_mean_predictor_mae"])]))  # fmt: skip
    print(markdown_row(*["picture -> DRR (dB)", ci(rows["head_drr_mae"], 2),
                        ci(rows["head_drr_mean_predictor_mae"], 2)]))  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------------
# Stage: train one variant
# ---------------------------------------------------------------------------------------------


def stage_train(args: argparse.Namespace) -> None:
    from avgen.models.mvsd.config import MVSDTrainConfig, mvsd_config
    from avgen.models.mvsd.kit import kit_items

    out = args.work / f"{args.variant}.pt"
    if out.exists():
        print(f"{out} exists: skipped")
        return
    items = kit_items(args.kit)
    config = mvsd_config(args.size, use_picture=args.variant != "mvsd-no-picture")
    tcfg = MVSDTrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        crop_seconds=args.crop_seconds,
        warmup_steps=args.warmup_steps,
        use_unpaired=args.variant != "mvsd-no-unpaired",
        seed=args.seed,
        lr=args.lr,
    )
    t0 = time.perf_counter()
    if args.variant == "av-unet":
        from avgen.models.mvsd.regression import fit_av_unet

        fit = fit_av_unet(items.paired, items.val, config, tcfg, progress=True)
        torch.save({"config": config.to_dict(), "state": fit.model.state_dict()}, out)
    else:
        from avgen.models.mvsd.train import fit_mvsd

        data = f"room kit {args.kit}"
        fit = fit_mvsd(
            items.paired, items.unpaired_reverberant, items.unpaired_clean, items.val,
            config, tcfg, progress=True, checkpoint=out,
            card_metadata={"data": data, "size": args.size, "variant": args.variant},
        )  # fmt: skip
        if args.variant == "mvsd":
            from avgen.models.mvsd.kit import write_model_card

            write_model_card(out.with_suffix(".md"), fit, size=args.size, data=data)
    print(f"{args.variant}: {tcfg.steps} steps in {time.perf_counter() - t0:.0f} s")


# ---------------------------------------------------------------------------------------------
# Stage: evaluate
# ---------------------------------------------------------------------------------------------


def load_systems(args: argparse.Namespace) -> dict[str, Any]:
    from avgen.models.mvsd.checkpoints import load_mvsd
    from avgen.models.mvsd.config import MVSDConfig
    from avgen.models.mvsd.regression import AVUNet

    systems: dict[str, Any] = {}
    for v in ("mvsd", "mvsd-no-picture", "mvsd-no-unpaired"):
        path = args.work / f"{v}.pt"
        if path.exists():
            systems[v] = load_mvsd(path).eval()
    path = args.work / "av-unet.pt"
    if path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = AVUNet(MVSDConfig.from_dict(blob["config"]))
        model.load_state_dict(blob["state"])
        systems["av-unet"] = model.eval()
    return systems


def fit_length(x: torch.Tensor, n: int) -> torch.Tensor:
    x = x.reshape(-1)[:n]
    return torch.nn.functional.pad(x, (0, n - x.numel()))


def vam_outputs(
    item: dict, systems: dict[str, Any], i2r: Any, args, k: int
) -> dict[str, torch.Tensor]:
    n = item["speech_samples"]
    target_len = item["reverberant"].numel()
    dry = item["clean"][:n]
    pic = item["picture"][None]
    out = {"input unchanged": fit_length(dry, target_len)}
    out["Image2Reverb-like"] = fit_length(i2r.match(dry, pic[0], seed=args.seed + k), target_len)
    with torch.no_grad():
        if "av-unet" in systems:
            out["AV U-Net (regression)"] = fit_length(
                systems["av-unet"].match(dry, pic), target_len
            )
        names = {"mvsd-no-picture": "MVSD without picture",
                 "mvsd-no-unpaired": "MVSD without unpaired data", "mvsd": "MVSD"}  # fmt: skip
        for key, label in names.items():
            if key in systems:
                model = systems[key]
                g = torch.Generator().manual_seed(args.seed + k)
                image = pic if model.config.use_picture else None
                y = model.match(dry, image, steps=args.sampling_steps, generator=g)
                out[label] = fit_length(y, target_len)
    return out


def dereverb_outputs(item: dict, systems: dict[str, Any], args, k: int, blind: bool):
    from avgen.baselines.wpe import wpe_dereverberate

    n = item["speech_samples"]
    rev = item["reverberant"]
    pic = item["picture"][None]
    out = {"reverberant input": rev[:n], "WPE": fit_length(wpe_dereverberate(rev), n)}
    if blind:
        from avgen.pipelines.diffusion import dereverberate

        r = dereverberate(rev[:n], seed=args.seed + k, progress=False)
        out["blind diffusion dereverb"] = fit_length(r.estimate, n)
    with torch.no_grad():
        for key, label in (("mvsd-no-picture", "MVSD dereverberator without picture"),
                           ("mvsd", "MVSD dereverberator")):  # fmt: skip
            if key in systems:
                model = systems[key]
                g = torch.Generator().manual_seed(args.seed + k)
                image = pic if model.config.use_picture else None
                y = model.dereverberate(rev, image, steps=args.sampling_steps, generator=g)
                out[label] = fit_length(y, n)
    return out


def stage_eval(args: argparse.Namespace) -> dict[str, Any]:
    from avgen.metrics import evaluate, stft_distance
    from avgen.models.scene.acoustic_head import load_scene_acoustics
    from avgen.models.scene.image2reverb import Image2Reverb
    from avgen.models.scene.rt60_estimator import load_rt60_estimator, reverberation_time_error

    torch.manual_seed(args.seed)
    systems = load_systems(args)
    est = load_rt60_estimator(args.work / "rt60-estimator.pt")
    i2r = Image2Reverb(load_scene_acoustics(args.work / "scene-acoustics.pt"), tail_seconds=1.0)
    try:
        from avgen.evaluators.mos import dnsmos
    except Exception:
        dnsmos = None
    transcripts = texts(args.kit)
    results: dict[str, Any] = {
        "settings": vars(args) | {"kit": str(args.kit), "work": str(args.work)}
    }
    for split in args.splits:
        items = split_items(args.kit, split, args.items, args.seed)
        ids = kit_utterance_ids(args.kit, split)
        vam: dict[str, dict[str, list[float]]] = {}
        der: dict[str, dict[str, list[float]]] = {}
        der_waves: dict[str, list[torch.Tensor]] = {}
        t0 = time.perf_counter()
        for k, item in enumerate(items):
            target = item["reverberant"]
            ovrl_target = dnsmos(target).ovrl if dnsmos is not None and args.mos else None
            for name, y in vam_outputs(item, systems, i2r, args, k).items():
                m = vam.setdefault(name, {"stft": [], "rte": [], "mos": []})
                m["stft"].append(stft_distance(target, y))
                m["rte"].append(reverberation_time_error(y, target, est))
                if ovrl_target is not None:
                    m["mos"].append(abs(dnsmos(y).ovrl - ovrl_target))
            n = item["speech_samples"]
            dry = item["clean"][:n]
            utt, _ = ids[item["id"]]
            text, lang = transcripts.get(utt, ("", ""))
            for name, y in dereverb_outputs(item, systems, args, k, k < args.blind_items).items():
                m = der.setdefault(name, {"pesq_wb": [], "estoi": [], "si_sdr": [], "wer": []})
                scores = evaluate(dry, y)
                for key in ("pesq_wb", "estoi", "si_sdr"):
                    m[key].append(scores[key])
                if args.wer and lang == "en" and text:
                    from avgen.evaluators.wer import wer

                    m["wer"].append(wer(y, text))
                der_waves.setdefault(name, []).append(y)
            print(
                f"{split}: {k + 1}/{len(items)} items ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        eer = {}
        if args.eer:
            eer = speaker_eers(items, ids, der_waves)
        results[split] = {"vam": vam, "dereverb": der, "eer": eer, "n": len(items)}
        print_tables(split, len(items), vam, der, eer)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return results


def speaker_eers(
    items: list[dict], ids: dict, waves: dict[str, list[torch.Tensor]]
) -> dict[str, float]:
    """EER per system: trials (output i, dry reference j), j != i, labelled same speaker."""
    from avgen.evaluators.speaker import cosine_similarity, equal_error_rate, speaker_embedding

    speakers = [ids[it["id"]][1] for it in items]
    refs = [speaker_embedding(it["clean"][: it["speech_samples"]]) for it in items]
    out = {}
    for name, ys in waves.items():
        if len(ys) != len(items):
            continue
        emb = [speaker_embedding(y) for y in ys]
        scores, labels = [], []
        for i in range(len(items)):
            for j in range(len(items)):
                if i != j:
                    scores.append(cosine_similarity(emb[i], refs[j]))
                    labels.append(speakers[i] == speakers[j])
        if any(labels) and not all(labels):
            out[name] = equal_error_rate(scores, labels)
    return out


def print_tables(split: str, n: int, vam: dict, der: dict, eer: dict) -> None:
    print()
    print(f"Visual acoustic matching, {split} ({n} items; mean ± 95 % interval)")
    print(markdown_header(*["system", "STFT distance", "RTE (s)", "MOS difference"]))
    for name, m in vam.items():
        print(markdown_row(*[name, ci(m["stft"]), ci(m["rte"]), ci(m["mos"], 2)]))
    print()
    print(f"Dereverberation, {split} ({n} items)")
    print(markdown_header(*["system", "n", "PESQ-WB", "ESTOI", "SI-SDR (dB)", "WER", "EER"]))
    for name, m in der.items():
        e = eer.get(name)
        print(markdown_row(*[name, str(len(m["pesq_wb"])), ci(m["pesq_wb"], 2), ci(m["estoi"]),
                            ci(m["si_sdr"], 2), ci(m["wer"], 2),
                            "-" if e is None else f"{e:.3f}"]))  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kit", type=Path, required=True, help="room kit (avgen data rooms)")
    p.add_argument("--work", type=Path, required=True, help="folder of the trained models")
    p.add_argument("--stage", choices=("scene", "train", "eval"), required=True)
    p.add_argument("--variant", choices=VARIANTS, default="mvsd")
    p.add_argument("--size", default="tiny", help="MVSD size (tiny, small, ...)")
    p.add_argument("--steps", type=int, default=400, help="MVSD/AV U-Net training steps")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop-seconds", type=float, default=1.0)
    p.add_argument("--warmup-steps", type=int, default=100, help="paired-only warm-up")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--estimator-steps", type=int, default=1000)
    p.add_argument("--head-steps", type=int, default=300)
    p.add_argument("--items", type=int, default=24, help="test items per split")
    p.add_argument("--splits", nargs="+", default=["test-seen", "test-unseen"])
    p.add_argument("--blind-items", type=int, default=6, help="items for the blind dereverb")
    p.add_argument("--sampling-steps", type=int, default=18)
    p.add_argument("--no-mos", dest="mos", action="store_false")
    p.add_argument("--no-wer", dest="wer", action="store_false")
    p.add_argument("--no-eer", dest="eer", action="store_false")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    {"scene": stage_scene, "train": stage_train, "eval": stage_eval}[args.stage](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
