"""Torch datasets over a data-kit folder (format: :mod:`avgen.data.kit.records`).

* :class:`FrameDataset` -- every STFT frame of a split's clean utterances with the lip image
  at that frame's time: what the VAE speech priors train on (full batch via
  :meth:`FrameDataset.as_tensors`).
* :class:`UtteranceDataset` -- whole utterances, clean or mixed with noise (the kit's
  ``mixtures/<split>.jsonl``), with lips and phones: what evaluation iterates over.

The lip image of each STFT frame is :func:`avgen.data.lips.frames.lips_at_stft_rate` of the
utterance's video: the two video frames around the frame's time, interpolated, reduced to
``lip_size x lip_size`` and scaled to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from avgen.audio import SAMPLE_RATE, VAE_STFT, StftConfig, load_audio, power_spectrogram
from avgen.data.kit.mixing import mix_at_snr, plan_mixtures, render_mixtures
from avgen.data.kit.records import (
    NOISE_SPLITS,
    SPLITS,
    KitInfo,
    MixtureRecord,
    NoiseRecord,
    UtteranceRecord,
    read_jsonl,
    read_kit_info,
)
from avgen.data.lips.frames import lips_at_stft_rate
from avgen.data.perturb import Perturbation, PerturbDraw, speed_perturb, vtlp_warp
from avgen.data.speech.phones import load_phones
from avgen.errors import ConfigError, DataError, VideoError
from avgen.seeding import derive_seed, numpy_generator

__all__ = [
    "FrameDataset",
    "NoiseCorruption",
    "UtteranceDataset",
    "kit_utterances",
    "load_kit_lips",
    "plan_mixtures",
    "render_mixtures",
]

CorruptAudio = Callable[[torch.Tensor, int], torch.Tensor]
"""``corrupt(clean_waveform, utterance_index) -> waveform of the same length``."""


# ----------------------------------------------------------------------------------------------
# Kit access
# ----------------------------------------------------------------------------------------------


def _kit_root(root: str | Path) -> tuple[Path, KitInfo]:
    path = Path(root)
    if not path.is_dir():
        raise DataError(
            f"{path}: no such data kit folder; build one with `avgen data build --out DIR`"
        )
    return path, read_kit_info(path)


def kit_utterances(root: str | Path, split: str) -> list[UtteranceRecord]:
    """The utterance records of ``split`` in kit ``root`` (:class:`DataError` if none)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    path = Path(root)
    records = [
        u for u in read_jsonl(path / "utterances.jsonl", UtteranceRecord) if u.split == split
    ]
    if not records:
        raise DataError(f"{path}: the {split!r} split has no utterances")
    missing = [
        str(path / rel) for u in records for rel in (u.wav, u.lips) if not (path / rel).exists()
    ]
    if missing:
        raise DataError(
            f"{path}: {len(missing)} file(s) of the {split!r} split are missing, "
            f"e.g. {missing[0]}; rebuild the kit"
        )
    return records


def load_kit_lips(
    path: str | Path,
    n_samples: int,
    fps: float,
    *,
    sample_rate: int = SAMPLE_RATE,
    tolerance_s: float = 0.1,
) -> np.ndarray:
    """Load a kit's ``lips/<id>.npy`` (uint8 ``(n, H, W)``) and check it against the audio.

    Raises:
        DataError: unreadable file, wrong shape/dtype, or a duration that differs from the
            audio's by more than ``tolerance_s``.
    """
    from avgen.data.lips.files import read_npy

    p = Path(path)
    try:
        lips = read_npy(p)
    except VideoError as exc:  # empty, truncated, corrupt, pickled, .npz: a broken kit file
        raise DataError(f"{exc}; rebuild the kit") from None
    if lips.ndim != 3 or lips.dtype != np.uint8 or lips.shape[0] == 0:
        raise DataError(f"{p}: expected uint8 frames (n, H, W), got {lips.dtype} {lips.shape}")
    video_s, audio_s = lips.shape[0] / fps, n_samples / sample_rate
    if abs(video_s - audio_s) > tolerance_s:
        raise DataError(
            f"{p}: {lips.shape[0]} lip frames at {fps:g} fps last {video_s:.3f} s "
            f"but the audio lasts {audio_s:.3f} s (tolerance {tolerance_s} s)"
        )
    return lips


# ----------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------


class FrameDataset(Dataset):
    """All STFT frames of the clean utterances of one split, precomputed in memory.

    Item ``i`` is a dict: ``power`` (F,) float32 ``|S|^2``; ``lips`` (lip_size**2,) float32 in
    [0, 1] (the lip image at that frame's time); ``speaker`` (int, index into
    :attr:`speakers`); ``utterance`` (int, index into :attr:`utterances`); and, with
    ``corrupt_audio``, ``power_corrupt`` (F,), the power of the corrupted waveform (e.g. for
    training an encoder on degraded audio while the decoder targets the clean ``power``).

    Args:
        root: kit folder.
        split: ``"train"``, ``"val"`` or ``"test"``.
        stft: the STFT convention (default the VAE's: sine 1024 / hop 256, 513 bins).
        lip_size: side of the downsampled lip image.
        max_utterances: keep only the first ``n`` utterances of the split (manifest order).
        corrupt_audio: ``f(waveform, utterance_index) -> waveform`` (same length), e.g.
            :class:`NoiseCorruption`; must be deterministic for reproducible data.
        lip_tolerance_s: allowed difference between lip-video and audio durations.
        augment: train split only: after each utterance's frames, those of
            ``augment.copies`` perturbed copies (:class:`~avgen.data.perturb.Perturbation`:
            speed perturbation of the waveform, VTLP of its power; the lips of a copy sped up by
            ``s`` play at ``s`` times the frame rate). :attr:`copy_index` says which copy a
            frame comes from (0: the original); a copy keeps its utterance's index, so
            :meth:`frames_of` spans the original and its copies.

    Raises:
        ConfigError: ``augment`` on a split other than ``train``.
        DataError: missing kit or files, empty split, lips/audio length mismatch.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        stft: StftConfig = VAE_STFT,
        lip_size: int = 32,
        max_utterances: int | None = None,
        corrupt_audio: CorruptAudio | None = None,
        *,
        lip_tolerance_s: float = 0.1,
        augment: Perturbation | None = None,
    ) -> None:
        path, info = _kit_root(root)
        utterances = kit_utterances(path, split)
        if max_utterances is not None:
            if max_utterances < 1:
                raise ConfigError(f"max_utterances must be >= 1, got {max_utterances}")
            utterances = utterances[:max_utterances]
        self.root, self.split, self.stft, self.lip_size = path, split, stft, lip_size
        self.utterances: list[UtteranceRecord] = utterances
        self.speakers: list[str] = sorted({u.speaker for u in utterances})
        speaker_index = {s: i for i, s in enumerate(self.speakers)}
        if augment is not None and split != "train":
            raise ConfigError(f"augmentation applies to the train split only, not {split!r}")
        self.augment = augment
        powers, lips, corrupt, spk, utt, copy_of = [], [], [], [], [], []
        n_utts = len(utterances)
        for idx, rec in enumerate(utterances):
            wav = load_audio(path / rec.wav)
            video = load_kit_lips(
                path / rec.lips,
                wav.numel(),
                info.video_fps,
                sample_rate=info.sample_rate,
                tolerance_s=lip_tolerance_s,
            )
            variants = [(0, PerturbDraw(1.0, 1.0))]
            if augment is not None:
                variants += [(c, augment.draw(idx, c)) for c in range(1, augment.copies + 1)]
            for c, draw in variants:
                # a sped-up copy lasts 1/speed as long: its video plays at speed * fps
                x = speed_perturb(wav, draw.speed)
                power = vtlp_warp(power_spectrogram(x, stft).T.contiguous(), draw.alpha)
                n_frames = power.shape[0]
                lips.append(
                    lips_at_stft_rate(
                        video,
                        info.video_fps * draw.speed,
                        n_frames,
                        stft=stft,
                        lip_size=lip_size,
                        sample_rate=info.sample_rate,
                    )
                )
                powers.append(power)
                if corrupt_audio is not None:
                    bad = torch.as_tensor(corrupt_audio(x, idx + c * n_utts), dtype=torch.float32)
                    if bad.shape != x.shape:
                        raise ConfigError(
                            f"corrupt_audio changed the length of {rec.id} "
                            f"({x.numel()} -> {bad.numel()} samples)"
                        )
                    bad_power = power_spectrogram(bad, stft).T.contiguous()
                    corrupt.append(vtlp_warp(bad_power, draw.alpha))
                spk.append(torch.full((n_frames,), speaker_index[rec.speaker], dtype=torch.long))
                utt.append(torch.full((n_frames,), idx, dtype=torch.long))
                copy_of.append(torch.full((n_frames,), c, dtype=torch.long))
        self.power = torch.cat(powers)
        self.lips = torch.cat(lips)
        self.power_corrupt = torch.cat(corrupt) if corrupt else None
        self.speaker_index = torch.cat(spk)
        self.utterance_index = torch.cat(utt)
        self.copy_index = torch.cat(copy_of)

    def __len__(self) -> int:
        return self.power.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        item: dict[str, torch.Tensor | int] = {
            "power": self.power[i],
            "lips": self.lips[i],
            "speaker": int(self.speaker_index[i]),
            "utterance": int(self.utterance_index[i]),
        }
        if self.power_corrupt is not None:
            item["power_corrupt"] = self.power_corrupt[i]
        return item

    def as_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(power (N, F), lips (N, lip_size**2))`` for full-batch training."""
        return self.power, self.lips

    def corrupted_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(power of the corrupted audio (N, F), lips (N, D))``; needs ``corrupt_audio``."""
        if self.power_corrupt is None:
            raise ConfigError("this FrameDataset was built without corrupt_audio")
        return self.power_corrupt, self.lips

    def frames_of(self, utterance: int) -> slice:
        """The rows of utterance ``utterance`` (frames of one utterance are contiguous)."""
        rows = torch.nonzero(self.utterance_index == utterance).flatten()
        if rows.numel() == 0:
            raise IndexError(utterance)
        return slice(int(rows[0]), int(rows[-1]) + 1)


class NoiseCorruption:
    """A ``corrupt_audio`` for :class:`FrameDataset`: add a kit noise at a random SNR.

    Utterance ``i`` is mixed (:func:`~avgen.data.kit.mixing.mix_at_snr`) with a clip of a noise
    type drawn uniformly among the kit's ``noise_split`` types (clip drawn in proportion to
    its duration), at an SNR drawn uniformly from ``snrs``, with probability ``probability``
    (else returned clean) -- all from ``derive_seed(seed, "corrupt", i)``, so reproducible.
    The output is the noisy mixture divided by the peak-safeguard gain, so the speech in it
    keeps its original level.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        noise_split: str = "seen",
        snrs: Sequence[float] = (-5.0, 0.0, 5.0, 10.0),
        probability: float = 1.0,
        seed: int = 0,
    ) -> None:
        if noise_split not in NOISE_SPLITS:
            raise ConfigError(f"noise_split must be one of {NOISE_SPLITS}, got {noise_split!r}")
        if not snrs or not 0.0 <= probability <= 1.0:
            raise ConfigError("NoiseCorruption needs at least one SNR and 0 <= probability <= 1")
        path = Path(root)
        records = [
            r
            for r in read_jsonl(path / "noise" / "noises.jsonl", NoiseRecord)
            if r.split == noise_split
        ]
        if not records:
            raise DataError(f"{path}: the kit has no {noise_split!r} noise clips")
        self.types = sorted({r.type for r in records})
        self.clips = {t: [r for r in records if r.type == t] for t in self.types}
        self.audio = {r.id: load_audio(path / r.wav).numpy() for r in records}
        self.snrs, self.probability, self.seed = tuple(snrs), probability, seed

    def __call__(self, waveform: torch.Tensor, index: int) -> torch.Tensor:
        rng = numpy_generator(derive_seed(self.seed, "corrupt", index))
        if rng.random() >= self.probability:
            return waveform
        clips = self.clips[self.types[int(rng.integers(len(self.types)))]]
        weights = np.array([c.duration for c in clips])
        clip = clips[int(rng.choice(len(clips), p=weights / weights.sum()))]
        snr = float(self.snrs[int(rng.integers(len(self.snrs)))])
        mix = mix_at_snr(waveform.numpy(), self.audio[clip.id], snr, rng=rng)
        return torch.from_numpy(mix.noisy / np.float32(mix.gain))


# ----------------------------------------------------------------------------------------------
# Utterances
# ----------------------------------------------------------------------------------------------


class UtteranceDataset(Dataset):
    """Whole utterances of a split, clean (``noise=None``) or as the kit's noisy mixtures.

    Item ``i`` is a dict:

    * ``id`` -- the utterance id (clean) or the mixture id;
    * ``clean`` -- (N,) float32, the clean reference as it sits in the mixture
      (``gain * speech`` when the peak safeguard scaled the mixture);
    * ``noisy`` -- (N,) float32, or ``None`` for clean items;
    * ``lips`` -- uint8 ``(n_video, H, W)`` at ``fps`` (the kit's ``video_fps``);
    * ``lips_stft`` -- (T, lip_size**2) float32 in [0, 1] at the frames of ``stft``;
    * ``phones`` -- list of :class:`~avgen.data.speech.phones.PhoneSegment`;
    * ``utterance`` -- the :class:`UtteranceRecord`; ``mixture`` -- the
      :class:`MixtureRecord` (``None`` for clean items); ``fps`` -- video frame rate.

    Items are loaded when asked for (not cached). Use ``collate_fn=lambda b: b`` (or batch
    size 1) with a DataLoader, since utterances differ in length.

    Args:
        noise: ``None`` (clean), ``"seen"`` or ``"unseen"``: mixtures with noise types of that
            split from ``mixtures/<split>.jsonl``.
        snrs: keep only mixtures at these SNRs (dB); ``None`` keeps all.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        noise: str | None = "unseen",
        snrs: Sequence[float] | None = None,
        *,
        stft: StftConfig = VAE_STFT,
        lip_size: int = 32,
        lip_tolerance_s: float = 0.1,
    ) -> None:
        path, info = _kit_root(root)
        utterances = {u.id: u for u in kit_utterances(path, split)}
        self.root, self.split, self.info = path, split, info
        self.stft, self.lip_size, self.lip_tolerance_s = stft, lip_size, lip_tolerance_s
        self.items: list[tuple[UtteranceRecord, MixtureRecord | None]]
        if noise is None:
            self.items = [(u, None) for u in utterances.values()]
            return
        if noise not in NOISE_SPLITS:
            raise ConfigError(f"noise must be None or one of {NOISE_SPLITS}, got {noise!r}")
        mixtures = read_jsonl(path / "mixtures" / f"{split}.jsonl", MixtureRecord)
        chosen = [
            m
            for m in mixtures
            if m.noise_split == noise
            and (snrs is None or any(math.isclose(m.snr_db, s, abs_tol=1e-6) for s in snrs))
        ]
        if not chosen:
            have = sorted({(m.noise_split, m.snr_db) for m in mixtures})
            raise DataError(
                f"{path}: no {split!r} mixtures with {noise} noise at SNRs {snrs}; "
                f"the kit has (noise split, SNR) = {have}"
            )
        unknown = [m.utterance_id for m in chosen if m.utterance_id not in utterances]
        if unknown:
            raise DataError(
                f"{path}: mixtures refer to utterance {unknown[0]!r}, which is not "
                f"in the {split!r} split of utterances.jsonl"
            )
        missing = [m.wav for m in chosen if not (path / m.wav).exists()]
        if missing:
            raise DataError(
                f"{path}: {len(missing)} mixture file(s) are missing, e.g. "
                f"{path / missing[0]}; rebuild the kit"
            )
        self.items = [(utterances[m.utterance_id], m) for m in chosen]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, object]:
        rec, mix = self.items[i]
        clean = load_audio(self.root / rec.wav)
        noisy = None
        if mix is not None:
            clean = clean * mix.gain
            noisy = load_audio(self.root / mix.wav)
            if noisy.numel() != clean.numel():
                raise DataError(
                    f"{self.root / mix.wav}: {noisy.numel()} samples but its clean "
                    f"speech has {clean.numel()}; rebuild the mixtures"
                )
        video = load_kit_lips(
            self.root / rec.lips,
            clean.numel(),
            self.info.video_fps,
            sample_rate=self.info.sample_rate,
            tolerance_s=self.lip_tolerance_s,
        )
        n_frames = self.stft.n_frames(clean.numel())
        return {
            "id": rec.id if mix is None else mix.id,
            "clean": clean,
            "noisy": noisy,
            "lips": torch.from_numpy(video),
            "lips_stft": lips_at_stft_rate(
                video,
                self.info.video_fps,
                n_frames,
                stft=self.stft,
                lip_size=self.lip_size,
                sample_rate=self.info.sample_rate,
            ),
            "phones": load_phones(self.root / rec.phones),
            "utterance": rec,
            "mixture": mix,
            "fps": self.info.video_fps,
        }
