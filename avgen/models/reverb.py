"""A differentiable room operator: a parametric room impulse response and its convolution.

The model, a time-domain form of the subband exponential-decay operator of BUDDy (Moliner,
Lemercier, Välimäki & Gerkmann, 2024, "BUDDy: single-channel blind unsupervised dereverberation
with diffusion models"; the statistical RIR model goes back to Polack, 1993)::

    h(t) = delta(t) + 1[t >= t_d] sum_b g_b exp(-3 ln(10) t / T60_b) n_b(t),   t = n / fs,

* ``delta``: the direct path, fixed (amplitude 1, at ``t = 0``);
* ``t_d``: a fixed pre-delay before the reverberant tail starts;
* ``n_b``: band ``b`` of one white Gaussian noise ``w`` (drawn once per operator from its seed
  and kept fixed), ``n_b = IFFT(1[f in band b] FFT(w))`` with a brick-wall partition of the
  frequency axis into octave bands, so ``sum_b n_b = w``: equal gains give a white tail;
* ``T60_b``: the band's reverberation time (the energy ``g_b^2 exp(-6 ln(10) t / T60_b)``
  falls by 60 dB in ``T60_b`` seconds, ``3 ln 10 = 6.9078``); ``g_b``: the tail's amplitude in
  the band, relative to a unit-variance white tail.

Its parameters are ``theta = (log T60_b, log g_b)``, an :class:`torch.nn.Parameter` each, so that
gradient steps on a likelihood estimate the room jointly with the clean speech during posterior
sampling (BUDDy does a few Adam steps on ``theta`` per reverse diffusion step).
:meth:`RoomOperator.apply` convolves by FFT; :meth:`RoomOperator.forward_stft` is the operator
on the compressed complex STFT of the diffusion family,
``A(X) = compress(STFT(h * iSTFT(decompress(X))))``, differentiable in ``X`` and ``theta``;
:meth:`RoomOperator.forward_tensor` does the same on the network's ``(B, 2, F, T)`` tensors and
takes parameters as a mapping, as ``inference.diffusion`` posterior samplers pass them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE, StftConfig, decompress, istft, stft
from avgen.errors import ConfigError

DECAY_60DB = 3.0 * math.log(10.0)
"""``3 ln 10 = 6.9078``: the amplitude envelope ``exp(-DECAY_60DB t / T60)`` loses 60 dB of
energy in ``T60`` seconds."""

OCTAVE_CENTRES_HZ: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)
"""Default band centres: octave bands, the first from 0 Hz and the last up to Nyquist."""


def octave_band_edges(
    centres: Sequence[float], sample_rate: int = SAMPLE_RATE
) -> tuple[float, ...]:
    """Band edges for ``centres``: geometric means of neighbouring centres, plus 0 and Nyquist."""
    c = sorted(float(x) for x in centres)
    if not c or c[0] <= 0 or c[-1] >= sample_rate / 2:
        raise ConfigError(f"band centres must lie in (0, {sample_rate / 2}) Hz, got {centres}")
    inner = [math.sqrt(a * b) for a, b in itertools.pairwise(c)]
    return (0.0, *inner, sample_rate / 2.0)


def band_masks(edges: Sequence[float], n: int, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """``(B, n // 2 + 1)`` 0/1 masks of the ``rfft`` bins of length ``n`` in each band
    ``[edges[b], edges[b + 1])`` (the last band includes Nyquist); they sum to one."""
    freqs = torch.fft.rfftfreq(n, d=1.0 / sample_rate, dtype=torch.float64)
    masks = []
    for b, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = b == len(edges) - 2
        masks.append((freqs >= lo) & ((freqs <= hi) if last else (freqs < hi)))
    return torch.stack(masks).to(torch.float32)


def fft_convolve(x: torch.Tensor, h: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """Linear convolution ``(x * h)[:length]`` over the last axis, by FFT, broadcasting leading
    axes; ``length`` defaults to ``x``'s (the causal "same" output)."""
    n_out = x.shape[-1] + h.shape[-1] - 1
    n_fft = 1 << (n_out - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * torch.fft.rfft(h, n=n_fft), n=n_fft)
    return y[..., : x.shape[-1] if length is None else length]


def compress_smooth(
    spec: torch.Tensor, config: StftConfig = DIFFUSION_STFT, eps: float = 1e-12
) -> torch.Tensor:
    """``beta c (|c|^2 + eps)^((alpha - 1) / 2)``: the amplitude compression of ``config``
    (``beta |c|^alpha e^{i angle c}``) made differentiable at ``c = 0``, equal to it to relative
    precision ``eps / |c|^2``."""
    alpha = config.compression_exponent
    if alpha is None:
        return spec
    power = spec.real.square() + spec.imag.square()
    return config.compression_scale * spec * (power + eps).pow((alpha - 1.0) / 2.0)


class RoomOperator(nn.Module):
    """Per-band exponential-decay room impulse response with learnable ``log T60`` and
    ``log gain`` per band, applied by convolution.

    Args:
        t60: initial reverberation time(s) in seconds, one for all bands or one per band.
        gain: initial tail amplitude(s) ``g_b`` (see the module docstring).
        band_centres: band centre frequencies in Hz (default: octave bands 125 Hz .. 4 kHz).
        length: RIR length in seconds (the tail is truncated there).
        predelay: seconds between the direct path and the start of the tail.
        t60_range: ``(min, max)`` T60 in seconds, enforced by :meth:`clamp_` (and the sampler's
            projections); the maximum defaults to ``length``.
        gain_range: ``(min, max)`` of the gains, enforced by :meth:`clamp_`.
        sample_rate: in Hz.
        seed: seeds the fixed noise ``w``; two operators with one seed share it.
    """

    def __init__(
        self,
        t60: float | Sequence[float] = 0.5,
        gain: float | Sequence[float] = 0.05,
        *,
        band_centres: Sequence[float] = OCTAVE_CENTRES_HZ,
        length: float = 1.0,
        predelay: float = 0.0025,
        t60_range: tuple[float, float] | None = None,
        gain_range: tuple[float, float] = (1e-4, 1.0),
        sample_rate: int = SAMPLE_RATE,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.n_samples = round(length * sample_rate)
        self.predelay_samples = round(predelay * sample_rate)
        if self.n_samples < 2 or not 0 <= self.predelay_samples < self.n_samples:
            raise ConfigError(
                f"RoomOperator: need length > 0 and 0 <= predelay < length, got "
                f"length={length} s, predelay={predelay} s"
            )
        self.band_edges = octave_band_edges(band_centres, sample_rate)
        n_bands = len(self.band_edges) - 1
        self.t60_range = (
            (0.05, float(length)) if t60_range is None else tuple(map(float, t60_range))
        )
        self.gain_range = tuple(map(float, gain_range))
        if (
            not 0 < self.t60_range[0] < self.t60_range[1]
            or not 0 < self.gain_range[0] < self.gain_range[1]
        ):
            raise ConfigError(
                f"RoomOperator: invalid ranges t60 {self.t60_range}, gain {self.gain_range}"
            )
        self.log_t60 = nn.Parameter(self._per_band(t60, n_bands, "t60").log())
        self.log_gain = nn.Parameter(self._per_band(gain, n_bands, "gain").log())
        gen = torch.Generator().manual_seed(int(seed))
        white = torch.randn(self.n_samples, generator=gen, dtype=torch.float64)
        masks = band_masks(self.band_edges, self.n_samples, sample_rate).to(torch.float64)
        bands = torch.fft.irfft(torch.fft.rfft(white)[None, :] * masks, n=self.n_samples)
        self.register_buffer("band_noise", bands.to(torch.float32))  # (B, N)
        self.register_buffer(
            "time", torch.arange(self.n_samples, dtype=torch.float32) / sample_rate
        )  # (N,)
        tail = torch.ones(self.n_samples)
        tail[: self.predelay_samples] = 0.0
        self.register_buffer("tail_mask", tail)
        direct = torch.zeros(self.n_samples)
        direct[0] = 1.0
        self.register_buffer("direct", direct)

    @staticmethod
    def _per_band(value: float | Sequence[float], n_bands: int, name: str) -> torch.Tensor:
        t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
        if t.numel() == 1:
            t = t.expand(n_bands).clone()
        if t.numel() != n_bands or not bool((t > 0).all()):
            raise ConfigError(
                f"RoomOperator: {name} must be positive, one value or one per band "
                f"({n_bands}), got {value}"
            )
        return t

    @property
    def n_bands(self) -> int:
        return len(self.band_edges) - 1

    @property
    def t60(self) -> torch.Tensor:
        """Per-band reverberation times in seconds (detached)."""
        return self.log_t60.detach().exp()

    @property
    def gain(self) -> torch.Tensor:
        """Per-band tail amplitudes (detached)."""
        return self.log_gain.detach().exp()

    def params(self) -> dict[str, torch.Tensor]:
        """The parameters as a plain mapping (detached copies): ``log_t60``, ``log_gain``."""
        return {
            "log_t60": self.log_t60.detach().clone(),
            "log_gain": self.log_gain.detach().clone(),
        }

    @torch.no_grad()
    def load_params(self, params: Mapping[str, torch.Tensor]) -> None:
        """Set ``log_t60`` / ``log_gain`` from a mapping (e.g. a posterior sampler's)."""
        for name in ("log_t60", "log_gain"):
            if name in params:
                getattr(self, name).copy_(torch.as_tensor(params[name]).reshape(self.n_bands))

    @torch.no_grad()
    def clamp_(self) -> RoomOperator:
        """Project the parameters into ``t60_range`` and ``gain_range`` (in place)."""
        self.log_t60.clamp_(math.log(self.t60_range[0]), math.log(self.t60_range[1]))
        self.log_gain.clamp_(math.log(self.gain_range[0]), math.log(self.gain_range[1]))
        return self

    def rir(
        self, log_t60: torch.Tensor | None = None, log_gain: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The impulse response ``(..., N)``; parameters default to the module's, and may carry
        leading batch axes ``(..., B)`` (one RIR per batch item)."""
        lt = self.log_t60 if log_t60 is None else log_t60
        lg = self.log_gain if log_gain is None else log_gain
        decay = DECAY_60DB / lt.exp()  # (..., B)
        envelope = torch.exp(lg[..., None] - decay[..., None] * self.time)  # (..., B, N)
        tail = (envelope * self.band_noise).sum(dim=-2) * self.tail_mask
        return tail + self.direct

    def apply(self, x: torch.Tensor, rir: torch.Tensor | None = None) -> torch.Tensor:
        """Reverberant waveform ``(h * x)[:N_x]`` of ``x`` ``(..., N_x)``, by FFT."""
        h = self.rir() if rir is None else rir
        return fft_convolve(x, h.to(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`apply`."""
        return self.apply(x)

    def forward_stft(
        self,
        spec: torch.Tensor,
        config: StftConfig = DIFFUSION_STFT,
        log_t60: torch.Tensor | None = None,
        log_gain: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``A(X)``: compressed complex STFT ``(..., F, T)`` of clean speech -> that of the
        reverberant speech, through decompress, iSTFT (``(T - 1) hop`` samples), convolution,
        STFT and a compression smooth at zero (:func:`compress_smooth`)."""
        wav = istft(
            decompress(spec, config), config, length=(spec.shape[-1] - 1) * config.hop_length
        )
        h = self.rir(log_t60, log_gain)
        if h.ndim > 1:  # one RIR per batch item: (B, N)
            h = h.reshape(h.shape[:-1] + (1,) * (wav.ndim - h.ndim) + h.shape[-1:])
        return compress_smooth(stft(fft_convolve(wav, h.to(wav.dtype)), config), config)

    def forward_tensor(
        self, x: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """:meth:`forward_stft` on real ``(B, 2, F, T)`` network tensors, with ``log_t60`` and
        ``log_gain`` optionally taken from ``params`` (the ``forward(x, params)`` of
        ``inference.diffusion`` likelihoods)."""
        from avgen.models.diffusion.spectra import spec_to_tensor, tensor_to_spec

        params = params or {}
        y = self.forward_stft(
            tensor_to_spec(x), log_t60=params.get("log_t60"), log_gain=params.get("log_gain")
        )
        return spec_to_tensor(y)


def fit_room_operator(
    operator: RoomOperator,
    clean_spec: torch.Tensor,
    reverberant_spec: torch.Tensor,
    *,
    steps: int = 200,
    lr: float = 0.05,
    config: StftConfig = DIFFUSION_STFT,
) -> list[float]:
    """Estimate ``operator``'s parameters for known clean speech by Adam on the squared error
    ``mean |A(X) - Y|^2`` of compressed STFTs (what one M-step of BUDDy does with the clean
    estimate held fixed), projecting into the allowed ranges after each step.

    Returns the loss per step; the operator's parameters are updated in place.
    """
    if clean_spec.shape != reverberant_spec.shape:
        raise ConfigError(
            f"clean and reverberant spectrograms differ in shape: "
            f"{tuple(clean_spec.shape)} vs {tuple(reverberant_spec.shape)}"
        )
    opt = torch.optim.Adam([operator.log_t60, operator.log_gain], lr=lr)
    losses = []
    for _ in range(int(steps)):
        opt.zero_grad()
        diff = operator.forward_stft(clean_spec, config) - reverberant_spec
        loss = (diff.real.square() + diff.imag.square()).mean()
        loss.backward()
        opt.step()
        operator.clamp_()
        losses.append(float(loss.detach()))
    return losses
