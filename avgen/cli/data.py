"""``avgen data ...``: build the offline audio-visual data kit and the room kit, render lips.

Each data subcommand has a ``_register_<name>(dsub)`` function below; ``register`` calls them
all. Heavy imports happen inside the handlers so that ``avgen --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build the offline data kit, render lips")
    dsub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND", parser_class=type(p))
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])
    _register_build(dsub)
    _register_rooms(dsub)
    _register_scenes(dsub)
    _register_lips(dsub)


# ----------------------------------------------------------------------------------------------
# avgen data build
# ----------------------------------------------------------------------------------------------


def _register_build(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "build",
        help="build the offline audio-visual data kit",
        description="Make the data kit: real and synthesized speech with phone timing, "
        "rendered lips, the noise bank (seen/unseen types) and noisy val/test "
        "mixtures, with every licence notice. Resumable: rerun the same command "
        "after an interruption.",
    )
    p.add_argument("--out", required=True, help="kit folder to create (or resume)")
    p.add_argument(
        "--size",
        choices=("tiny", "small", "full"),
        default="small",
        help="tiny (12 utterances, tests), small (152, minutes), full (2135, "
        "about 2.3 h of speech)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument(
        "--snr",
        default="-5,0,5",
        help="SNRs (dB) of the val/test mixtures, comma-separated (default -5,0,5)",
    )
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument(
        "--arctic-dir",
        help="folder of CMU ARCTIC clips (default: the install location or $AVGEN_ARCTIC_DIR)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace a complete kit of other options in --out"
    )
    p.set_defaults(handler=run_build)


def _parse_snrs(text: str) -> tuple[float, ...]:
    from avgen.errors import ConfigError

    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(
            f"--snr {text!r}: give numbers separated by commas, e.g. -5,0,5"
        ) from None
    if not values:
        raise ConfigError("--snr: give at least one SNR")
    return values


def run_build(args: argparse.Namespace) -> int:
    """Handler of ``avgen data build``."""
    from avgen.data.kit.build import BuildOptions, build_kit, format_summary

    options = BuildOptions(
        size=args.size, seed=args.seed, snrs=_parse_snrs(args.snr), arctic_dir=args.arctic_dir
    )
    root = build_kit(args.out, options, workers=args.workers, overwrite=args.overwrite)
    print(format_summary(root))
    sys.stdout.flush()
    return 0


# ----------------------------------------------------------------------------------------------
# avgen data rooms
# ----------------------------------------------------------------------------------------------


def _register_rooms(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "rooms",
        help="build the room-scene kit (pictures, impulse responses, reverberant speech)",
        description="Make the room kit of visual acoustic matching and dereverberation: "
        "simulated rooms with several source/microphone viewpoints each, every viewpoint with "
        "its rendered picture, impulse response and measured labels (RT60 broadband and per "
        "octave band, DRR), and the speech of a data kit rendered through it. Splits: "
        "train-paired, train-unpaired-reverberant, train-unpaired-clean, val, test-seen, "
        "test-unseen. Resumable: rerun the same command after an interruption.",
    )
    p.add_argument("--out", required=True, help="room kit folder to create (or resume)")
    p.add_argument("--speech", required=True, help="speech kit folder (made by `avgen data build`)")
    p.add_argument("--rooms", type=int, default=24, help="number of rooms (default 24)")
    p.add_argument("--viewpoints", type=int, default=3, help="viewpoints per room (default 3)")
    p.add_argument(
        "--unseen-fraction",
        type=float,
        default=0.25,
        help="share of rooms kept for test-unseen only (default 0.25)",
    )
    p.add_argument(
        "--unpaired-fraction",
        type=float,
        default=1.0 / 6.0,
        help="share of training items that are unpaired: reverberant-only and clean-only, "
        "half each when the speech kit has enough train utterances (default 1/6, as MVSD's "
        "17 %%)",
    )
    p.add_argument(
        "--items-per-viewpoint",
        type=int,
        default=4,
        help="training utterances rendered through each seen viewpoint (default 4)",
    )
    p.add_argument(
        "--tail",
        type=float,
        default=1.0,
        help="seconds of reverberant tail kept after each utterance (default 1.0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a kit of other options (complete or partial) in --out",
    )
    p.set_defaults(handler=run_rooms)


def run_rooms(args: argparse.Namespace) -> int:
    """Handler of ``avgen data rooms``."""
    from avgen.data.rooms.kit import RoomKitOptions, build_room_kit, format_summary

    options = RoomKitOptions(
        rooms=args.rooms,
        viewpoints_per_room=args.viewpoints,
        unseen_room_fraction=args.unseen_fraction,
        unpaired_fraction=args.unpaired_fraction,
        train_items_per_viewpoint=args.items_per_viewpoint,
        tail_seconds=args.tail,
        seed=args.seed,
    )
    root = build_room_kit(args.out, args.speech, options, overwrite=args.overwrite)
    print(format_summary(root))
    sys.stdout.flush()
    return 0


# ----------------------------------------------------------------------------------------------
# avgen data scenes
# ----------------------------------------------------------------------------------------------


def _register_scenes(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "scenes",
        help="build the scene-video kit of soundscape stylization (pictures, ambience, clips)",
        description="Make the scene-video kit of audio-visual soundscape stylization: "
        "'videos' that each keep one scene over time -- a picture (a rendered room, or a drawn "
        "street, rain, beach, forest, train carriage or market), one continuous ambience track "
        "from the speech kit's noise bank matched to the scene (real recordings first), the "
        "room, carriage or open-air acoustics, and speech cut into clips (dry.wav, "
        "speech_scene.wav, ambience.wav, clip.wav; 16 kHz float). Splits: train, val, "
        "test-seen, test-unseen (unseen scene kinds and ambience types only there), plus test "
        "triplets with a synthesized target. Resumable: rerun the same command after an "
        "interruption.",
    )
    p.add_argument("--out", required=True, help="scene kit folder to create (or resume)")
    p.add_argument("--speech", required=True, help="speech kit folder (made by `avgen data build`)")
    p.add_argument("--videos", type=int, default=24, help="number of videos (default 24)")
    p.add_argument(
        "--clips-per-video", type=int, default=4, help="clips per video, >= 2 (default 4)"
    )
    p.add_argument(
        "--clip-seconds", type=float, default=2.0, help="length of every clip (default 2.0)"
    )
    p.add_argument(
        "--unseen-fraction",
        type=float,
        default=0.25,
        help="share of videos in unseen scenes, test-unseen only (default 0.25)",
    )
    p.add_argument(
        "--snr",
        type=float,
        nargs=2,
        default=(0.0, 15.0),
        metavar=("LOW", "HIGH"),
        help="range of the per-video SNR of speech over ambience in dB (default 0 15)",
    )
    p.add_argument(
        "--enhanced",
        action="store_true",
        help="also write enhanced.wav of every clip with the audio-only default enhancer "
        "(slow; may be added to a complete kit by a rerun)",
    )
    p.add_argument(
        "--enhance-iterations",
        type=int,
        default=10,
        help="EM iterations of the enhancer with --enhanced (default 10)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a kit of other options (complete or partial) in --out",
    )
    p.set_defaults(handler=run_scenes)


def run_scenes(args: argparse.Namespace) -> int:
    """Handler of ``avgen data scenes``."""
    import time

    from avgen.data.scenes.kit import SceneKitOptions, build_scene_kit, format_summary

    options = SceneKitOptions(
        videos=args.videos,
        clips_per_video=args.clips_per_video,
        clip_seconds=args.clip_seconds,
        unseen_fraction=args.unseen_fraction,
        snr_low=args.snr[0],
        snr_high=args.snr[1],
        seed=args.seed,
    )
    started = time.perf_counter()
    root = build_scene_kit(
        args.out,
        args.speech,
        options,
        enhanced=args.enhanced,
        enhance_iterations=args.enhance_iterations,
        overwrite=args.overwrite,
    )
    print(format_summary(root))
    print(f"  this run: {time.perf_counter() - started:.1f} s")
    sys.stdout.flush()
    return 0


# ----------------------------------------------------------------------------------------------
# avgen data lips
# ----------------------------------------------------------------------------------------------


def _register_lips(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser(
        "lips",
        help="render the mouth region of a recording from its transcript",
        description="Align the transcript with the audio (or read phone timing with "
        "--phones), then render a grayscale mouth-region video whose lips follow "
        "the phones. Writes uint8 (frames, size, size) as .npy (or .mp4 for "
        "viewing).",
    )
    p.add_argument("--wav", required=True, help="16 kHz mono speech (.wav/.flac)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the transcript, aligned to the audio (see --language)")
    src.add_argument(
        "--phones",
        help="phone timing JSON [[phone, start, end], ...] instead of aligning a transcript",
    )
    p.add_argument(
        "--language",
        choices=("en", "es", "fr", "it", "ru"),
        default="en",
        help="language of --text (en: pocketsphinx, else TTS + DTW with espeak-ng)",
    )
    p.add_argument("--out", required=True, help="output lips file (.npy, or .mp4 to view)")
    p.add_argument(
        "--speaker",
        default="spk",
        help="speaker id: fixes the mouth's appearance (default: %(default)s)",
    )
    p.add_argument("--fps", type=float, default=25.0, help="video frame rate (default 25)")
    p.add_argument("--size", type=int, default=64, help="frame size in pixels (default 64)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of head motion, lighting and degradations (default 0)",
    )
    p.add_argument(
        "--degrade",
        choices=("none", "mild", "moderate", "severe"),
        default="none",
        help="apply a preset of video degradations",
    )
    p.add_argument("--preview", help="also write a contact sheet PNG of frames with phones")
    p.add_argument("--save-phones", help="also write the phone timing used (JSON)")
    p.set_defaults(handler=run_lips)


def _phones_from_alignment(waveform, text: str, language: str = "en") -> list:
    from avgen.errors import DataError, MissingToolError

    try:
        from avgen.data.speech.align import align_transcript
    except ModuleNotFoundError as exc:
        if exc.name not in ("avgen.data.speech.align",):
            raise
        raise MissingToolError(
            "forced alignment (avgen.data.speech.align) is not available in this "
            "installation; pass --phones with a phone timing file "
            "instead of --text"
        ) from None
    try:
        return align_transcript(waveform, text, language=language, sample_rate=16000)
    except KeyError as exc:  # a sound the language's phone table lacks
        raise DataError(
            f"--text: {exc.args[0]}: is the transcript in another language than "
            f"--language {language}?"
        ) from None


def _check_lips_outputs(args: argparse.Namespace) -> None:
    """Before any work: the outputs' suffixes and folders, none of them an input or another
    output, and ffmpeg present for a video output."""
    from pathlib import Path

    from avgen.errors import ConfigError
    from avgen.files import check_outputs_differ, check_writable
    from avgen.video_align import check_fps

    out = Path(args.out)
    if out.suffix.lower() not in (".npy", ".mp4"):
        raise ConfigError(f"--out {out}: use a .npy file (or .mp4 to view)")
    check_fps(args.fps, "--fps")
    if args.preview is not None and Path(args.preview).suffix.lower() != ".png":
        raise ConfigError(f"--preview {args.preview}: the contact sheet is a .png file")
    outputs = {"--out": args.out, "--save-phones": args.save_phones, "--preview": args.preview}
    check_outputs_differ(outputs, {"--wav": args.wav, "--phones": args.phones})
    for path in outputs.values():
        if path is not None:
            check_writable(path)
    if out.suffix.lower() == ".mp4":
        from avgen.data.lips.files import require_ffmpeg

        require_ffmpeg()


def run_lips(args: argparse.Namespace) -> int:
    """Handler of ``avgen data lips``."""
    from pathlib import Path

    from avgen.audio import SAMPLE_RATE, load_audio
    from avgen.data.lips.degrade import LipDegradations
    from avgen.data.lips.files import save_lips
    from avgen.data.lips.video import render_lip_video
    from avgen.data.speech.phones import load_phones, save_phones
    from avgen.errors import ConfigError, DataError

    out = Path(args.out)
    _check_lips_outputs(args)
    wav = load_audio(args.wav)
    duration = wav.shape[-1] / SAMPLE_RATE
    if args.phones is not None:
        path = Path(args.phones)
        if not path.is_file():
            raise DataError(f"{path}: no such phone timing file")
        try:
            phones = load_phones(path)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{path}: not a phone timing file [[phone, start, end], ...] ({exc})"
            ) from None
        how = f"phones from {path}"
    else:
        if not args.text.strip():
            raise ConfigError("--text is empty; give the words spoken in the recording")
        phones = _phones_from_alignment(wav, args.text, args.language)
        how = "phones aligned to the transcript"
    degradations = LipDegradations.preset(args.degrade)
    video = render_lip_video(
        phones,
        duration,
        speaker=args.speaker,
        fps=args.fps,
        size=args.size,
        seed=args.seed,
        degradations=degradations,
    )
    save_lips(out, video.frames, fps=args.fps)
    n, h, w = video.frames.shape
    print(
        f"rendered {n} frames of {h}x{w} at {args.fps:g} fps ({duration:.2f} s, "
        f"{len(phones)} {how}, speaker {args.speaker!r}, seed {args.seed}"
        + (
            f", {args.degrade} degradations, {int(video.dropped.sum())} dropped"
            if degradations.active
            else ""
        )
        + f") -> {out}"
    )
    if args.save_phones:
        save_phones(args.save_phones, phones)
        print(f"phone timing -> {args.save_phones}")
    if args.preview:
        from avgen.data.lips.preview import contact_sheet

        contact_sheet(
            args.preview,
            video.frames,
            args.fps,
            phones=phones,
            title=f"{Path(args.wav).name}: speaker {args.speaker}",
        )
        print(f"contact sheet -> {args.preview}")
    sys.stdout.flush()
    return 0
