"""Between waveforms, compressed complex STFTs and the network's real tensors.

The diffusion family works on the amplitude-compressed complex STFT of
:data:`avgen.audio.DIFFUSION_STFT` (periodic Hann 510, hop 128, 256 bins,
``c -> 0.15 |c|^0.5 e^{i angle c}``; Richter et al., 2023), with the real and imaginary parts as
two channels::

    waveform (..., N)  --stft, compress-->  spec (..., 256, T) complex
                       --spec_to_tensor-->  x (..., 2, 256, T) real

With ``center=True`` a waveform of ``N`` samples has ``T = 1 + N // 128`` frames, and
:func:`tensor_to_waveform` inverts with ``length = (T - 1) * 128`` unless told the original
length. A segment of ``T`` frames is therefore cut as ``(T - 1) * 128`` samples
(:func:`segment_samples`): 256 frames = 32,640 samples = 2.04 s.

Padding rule of the U-Net (frames must be a multiple of its downsampling factor ``m``):
:func:`pad_frames` appends zero frames on the right (zeros of the compressed STFT are digital
silence), up to the next multiple of ``m``; :func:`crop_frames` drops them after the network.
"""

from __future__ import annotations

import torch

from avgen.audio import DIFFUSION_STFT, StftConfig, compress, decompress, istft, stft
from avgen.errors import AudioError, ConfigError


def spec_to_tensor(spec: torch.Tensor) -> torch.Tensor:
    """Complex ``(..., F, T)`` -> real ``(..., 2, F, T)`` (channel 0 real, 1 imaginary)."""
    if not spec.is_complex():
        raise ConfigError(f"spec_to_tensor expects a complex spectrogram, got {spec.dtype}")
    return torch.view_as_real(spec).movedim(-1, -3)


def tensor_to_spec(x: torch.Tensor) -> torch.Tensor:
    """Real ``(..., 2, F, T)`` -> complex ``(..., F, T)``; inverse of :func:`spec_to_tensor`."""
    if x.is_complex() or x.ndim < 3 or x.shape[-3] != 2:
        raise ConfigError(
            f"tensor_to_spec expects a real (..., 2, F, T) tensor, got {tuple(x.shape)} {x.dtype}"
        )
    return torch.view_as_complex(x.movedim(-3, -1).contiguous())


def waveform_to_tensor(wav: torch.Tensor, config: StftConfig = DIFFUSION_STFT) -> torch.Tensor:
    """``(..., N)`` waveform -> ``(..., 2, F, T)`` compressed STFT tensor."""
    return spec_to_tensor(compress(stft(wav, config), config))


def tensor_to_waveform(
    x: torch.Tensor, length: int | None = None, config: StftConfig = DIFFUSION_STFT
) -> torch.Tensor:
    """``(..., 2, F, T)`` compressed STFT tensor -> ``(..., N)`` waveform.

    ``length`` defaults to ``(T - 1) * hop``, the length that :func:`waveform_to_tensor` maps to
    ``T`` frames.
    """
    spec = decompress(tensor_to_spec(x), config)
    if length is None:
        length = (x.shape[-1] - 1) * config.hop_length
    return istft(spec, config, length=length)


def segment_samples(frames: int, config: StftConfig = DIFFUSION_STFT) -> int:
    """Samples of a waveform segment that gives exactly ``frames`` STFT frames."""
    if frames < 1:
        raise ConfigError(f"a segment needs at least one frame, got {frames}")
    return (frames - 1) * config.hop_length


def pad_frames(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int]:
    """Zero-pad the last (frame) axis on the right to a multiple of ``multiple``.

    Returns ``(padded, original_frames)``; undo with :func:`crop_frames`.
    """
    frames = x.shape[-1]
    extra = (-frames) % multiple
    if extra:
        x = torch.nn.functional.pad(x, (0, extra))
    return x, frames


def crop_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Keep the first ``frames`` frames (inverse of :func:`pad_frames`)."""
    return x[..., :frames]


def crop_or_pad(wav: torch.Tensor, n_samples: int, start: int = 0) -> torch.Tensor:
    """``wav[start:start + n_samples]``, zero-padded on the right when the waveform is shorter."""
    seg = wav[..., start : start + n_samples]
    short = n_samples - seg.shape[-1]
    if short > 0:
        seg = torch.nn.functional.pad(seg, (0, short))
    return seg


def random_segments(
    waveforms: list[torch.Tensor],
    n: int,
    frames: int,
    *,
    generator: torch.Generator | None = None,
    config: StftConfig = DIFFUSION_STFT,
) -> torch.Tensor:
    """``n`` random segments of ``frames`` frames as a ``(n, 2, F, frames)`` tensor.

    Each segment picks an utterance with probability proportional to its length (so every
    sample is equally likely to be seen), then a uniform start; utterances shorter than a
    segment are zero-padded on the right.
    """
    if not waveforms:
        raise AudioError("random_segments: no waveforms given")
    length = segment_samples(frames, config)
    lengths = torch.tensor([float(w.shape[-1]) for w in waveforms])
    which = torch.multinomial(lengths / lengths.sum(), n, replacement=True, generator=generator)
    segs = []
    for i in which.tolist():
        wav = waveforms[i]
        room = max(wav.shape[-1] - length, 0)
        start = int(torch.randint(room + 1, (1,), generator=generator))
        segs.append(crop_or_pad(wav, length, start))
    return waveform_to_tensor(torch.stack(segs), config)


@torch.no_grad()
def measure_sigma_data(waveforms: list[torch.Tensor], config: StftConfig = DIFFUSION_STFT) -> float:
    """The data standard deviation of EDM (Karras et al., 2022): the root mean square of the
    real and imaginary parts of the compressed STFT over every bin of every frame,

        sigma_data = sqrt( sum_u sum_{f,t} |X_u(f, t)|^2 / (2 sum_u F T_u) ),

    pauses included, since the training segments include them.
    """
    if not waveforms:
        raise AudioError("measure_sigma_data: no waveforms given")
    total = 0.0
    count = 0
    for wav in waveforms:
        x = waveform_to_tensor(wav.to(torch.float32), config)
        total += float(x.double().square().sum())
        count += x.numel()
    return (total / count) ** 0.5
