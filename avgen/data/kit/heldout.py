"""Real mixtures the kit never used: for claims that must hold beyond the kit.

The full kit takes every English and Spanish Asterisk prompt for training and a *sample* of
the French, Italian and Russian prompts (other speakers, speaker-disjoint) for validation and
test (:data:`avgen.data.speech.plan.SIZE_QUOTAS`). The prompts of those three voices that no
kit size ever plans -- real read speech by speakers no prior was trained on, in sentences no
kit holds -- are mixed here with real ambience recordings (the noise bank's unseen ``city`` and
``tv`` beds from ``ufoai-sound``) at a chosen SNR, deterministically from a seed.

Needs the Debian packages of the data kit (``asterisk-core-sounds-{fr,it,ru}-g722``,
``ufoai-sound``): :class:`~avgen.errors.MissingToolError` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avgen.data.kit.mixing import mix_at_snr
from avgen.data.noise.catalogue import noise_type
from avgen.data.noise.real import read_ufoai
from avgen.data.speech import recordings
from avgen.data.speech.plan import KIT_SIZES, keyed_rng, plan_utterances
from avgen.errors import DataError

HELDOUT_LANGUAGES = ("it", "ru", "fr")


@dataclass(frozen=True)
class HeldoutMixture:
    """One real mixture: ``noisy = clean + noise`` at ``snr_db`` (float32, 16 kHz)."""

    id: str
    clean: np.ndarray
    noisy: np.ndarray
    snr_db: float
    text: str
    language: str
    noise: str


def unused_prompts(language: str) -> list[recordings.Recording]:
    """The prompts of ``language``'s Asterisk voice that no kit size plans (seed 0)."""
    used = {
        plan.text
        for size in KIT_SIZES
        for plan in plan_utterances(size, seed=0)
        if plan.language == language
    }
    return [r for r in recordings.asterisk_prompts(language) if r.text not in used]


def heldout_mixtures(
    n: int,
    snr_db: float,
    *,
    noises: tuple[str, ...] = ("city", "tv"),
    seed: int = 0,
    max_seconds: float = 6.0,
) -> list[HeldoutMixture]:
    """``n`` mixtures, cycling over :data:`HELDOUT_LANGUAGES` and ``noises``, each from a
    different unused prompt (at most ``max_seconds`` long) and a random offset into the noise
    recording."""
    beds = {}
    for name in noises:
        clips = read_ufoai(noise_type(name).recordings)
        beds[name] = np.concatenate([c.waveform for c in clips])
    pools = {language: unused_prompts(language) for language in HELDOUT_LANGUAGES}
    out = []
    for i in range(n):
        language = HELDOUT_LANGUAGES[i % len(HELDOUT_LANGUAGES)]
        noise = noises[i % len(noises)]
        pool = pools[language]
        rng = keyed_rng(seed, "heldout", str(i))
        clean = None
        for index in rng.permutation(len(pool)):
            candidate = recordings.load_prompt(pool[int(index)])
            if candidate.size <= max_seconds * 16_000:
                prompt, clean = pool[int(index)], candidate
                pool.pop(int(index))
                break
        if clean is None:
            raise DataError(f"no unused {language} prompt of at most {max_seconds} s is left")
        mixture = mix_at_snr(clean, beds[noise], snr_db, rng=rng)
        out.append(
            HeldoutMixture(
                id=f"heldout-{language}-{prompt.name}_{noise}_{snr_db:+g}dB",
                clean=mixture.clean.astype(np.float32),
                noisy=mixture.noisy.astype(np.float32),
                snr_db=snr_db,
                text=prompt.text,
                language=language,
                noise=noise,
            )
        )
    return out
