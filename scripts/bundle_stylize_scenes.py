"""Copy four example scenes of a scene kit into ``avgen/assets/stylize/scenes/`` for
``avgen stylize`` (its default example) and example 09: for each wanted kind, the first test
video of that kind; its second clip (speech in the scene + its ambience) and its picture, with
their provenance in ``scenes.json``.

    python scripts/bundle_stylize_scenes.py --kit SCENEKIT [--out avgen/assets/stylize/scenes]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

KINDS = ("street", "indoor", "forest", "rain", "train", "beach", "market")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("avgen/assets/stylize/scenes"))
    parser.add_argument("--kinds", default="street,indoor,forest,train")
    args = parser.parse_args()

    from avgen.data.noise.catalogue import noise_type
    from avgen.data.scenes.dataset import read_scene_kit
    from avgen.images import save_picture

    kit = read_scene_kit(args.kit)
    bank = Path(kit.info.speech_kit) / "noise" / "noises.jsonl"
    noises = {r["id"]: r for r in map(json.loads, bank.read_text().splitlines()) if r}
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for kind in args.kinds.split(","):
        videos = [v for v in kit.videos.values() if v.split.startswith("test") and v.kind == kind]
        if not videos:
            raise SystemExit(f"no test video of kind {kind!r} in {args.kit}")
        video = sorted(videos, key=lambda v: v.id)[0]
        clip = kit.clips[video.clips[1]]
        wave = kit.audio(clip.clip).numpy()
        wave = wave / max(float(np.abs(wave).max()), 1e-8) * 0.7
        sf.write(args.out / f"{kind}.wav", wave.astype(np.float32), 16000, subtype="PCM_16")
        picture = (kit.picture(clip.picture).permute(1, 2, 0).numpy() * 255).round()
        save_picture(args.out / f"{kind}.png", picture.astype(np.uint8))
        scene = kit.scenes[video.scene]
        records.append(
            {
                "name": kind,
                "audio": f"{kind}.wav",
                "picture": f"{kind}.png",
                "kit_video": video.id,
                "kit_clip": clip.id,
                "split": video.split,
                "scene_seen_in_training": bool(clip.seen),
                "ambience_type": clip.ambience_type,
                "noise_id": scene.noise_id,
                "noise_source": noises[scene.noise_id]["source"],
                "noise_licence": noises[scene.noise_id]["licence"],
                "ambience_real": noise_type(clip.ambience_type).category == "real",
                "snr_db": round(float(video.snr_db), 2),
                "rt60_s": None if scene.rt60 is None else round(float(scene.rt60), 3),
                "speech": clip.texts,
                "speakers": clip.speakers,
            }
        )
        print(f"{kind}: {video.id} ({video.split}), {clip.ambience_type}, {video.snr_db:.1f} dB")
    info = {"kit": str(args.kit), "kit_seed": kit.info.options.get("seed"), "scenes": records}
    (args.out / "scenes.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
