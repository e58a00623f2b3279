"""Accuracy of the forced aligners (avgen.data.speech.align), printed as two tables.

1. Synthetic truth: flite speech of avgen's English sentences, whose phone timing flite
   reports. pocketsphinx aligns it; DTW aligns it against another flite voice. Boundary
   errors are measured on phones matched by sequence alignment (pocketsphinx may choose
   other pronunciation variants; DTW keeps the reference's phones, which here are the same).
2. Real prompts: Asterisk prompts of each language; agreement of the aligned speech/pause
   frames with an energy VAD inside the utterance, and the distance of the aligned speech
   onset/offset from the VAD's (independent for pocketsphinx; by construction for DTW).

    flock /tmp/avgen-heavy.lock python benchmarks/alignment_accuracy.py --sentences 20 --prompts 25
"""

from __future__ import annotations

import argparse
import difflib
import functools
import time

import numpy as np

from avgen.data.speech import align, recordings, tts
from avgen.data.speech.phones import SILENCE
from avgen.data.speech.plan import english_sentences
from avgen.data.speech.produce import alignment_reference
from avgen.data.speech.vad import energy_vad, speech_mask
from avgen.errors import DataError

PAIRS = (("slt", "kal16"), ("slt", "awb"), ("awb", "slt"), ("rms", "slt"), ("kal16", "slt"))


def boundary_errors(truth, estimate):
    a, b = [s.phone for s in truth], [s.phone for s in estimate]
    errors, matched = [], 0
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            t, e = truth[block.a + k], estimate[block.b + k]
            matched += t.phone != SILENCE
            errors += [abs(t.start - e.start), abs(t.end - e.end)]
    return errors, matched / sum(p != SILENCE for p in a)


def synthetic_table(n_sentences: int) -> None:
    texts = english_sentences()[:n_sentences]
    print(f"\nSynthetic truth ({len(texts)} sentences): |boundary error| of matched phones")
    print(
        f"{'target':7} {'method':13} {'median ms':>9} {'p90 ms':>7} {'<40 ms':>7} "
        f"{'matched':>8} {'s/utt':>6} {'failed':>6}"
    )
    runs = [(target, "pocketsphinx", None) for target in dict.fromkeys(t for t, _ in PAIRS)]
    runs += [(target, "dtw", ref_voice) for target, ref_voice in PAIRS]
    for target, method, ref_voice in runs:
        reference = ref_voice and functools.partial(tts.synthesize_flite, voice=ref_voice)
        errors, matched, seconds, failed = [], [], 0.0, 0
        for text in texts:
            speech = tts.synthesize_flite(text, target)
            t0 = time.perf_counter()
            try:
                phones = align.align_transcript(
                    speech.waveform, text, method=method, reference=reference
                )
            except DataError:
                failed += 1
                continue
            seconds += time.perf_counter() - t0
            e, m = boundary_errors(speech.phones, phones)
            errors += e
            matched.append(m)
        e = np.array(errors) * 1000
        label = method if method == "pocketsphinx" else f"dtw vs {ref_voice}"
        print(
            f"{target:7} {label:13} {np.median(e):9.1f} {np.percentile(e, 90):7.1f} "
            f"{np.mean(e < 40):7.2f} {np.mean(matched):8.3f} "
            f"{seconds / max(1, len(texts) - failed):6.2f} {failed:6d}"
        )


def real_table(n_prompts: int) -> None:
    print(f"\nReal Asterisk prompts ({n_prompts} per language, fixed draw) against an energy VAD")
    print(
        f"{'lang':5} {'method':17} {'frames agree':>12} {'p10':>6} {'onset ms':>8} "
        f"{'offset ms':>9} {'s/utt':>6}"
    )
    for language, voice in recordings.ASTERISK_VOICES.items():
        prompts = recordings.asterisk_prompts(language)
        picks = np.random.default_rng(0).choice(len(prompts), size=n_prompts, replace=False)
        agree, onset, offset, methods, seconds = [], [], [], set(), 0.0
        for i in picks:
            rec = prompts[i]
            wav = recordings.load_prompt(rec)
            t0 = time.perf_counter()
            result = align.align(
                wav, rec.text, language, reference=alignment_reference(language, voice.gender)
            )
            seconds += time.perf_counter() - t0
            methods.add(result.method)
            vad = energy_vad(wav)
            mask = speech_mask(result.phones, len(vad))
            first, last = np.flatnonzero(vad)[[0, -1]]
            agree.append(np.mean(vad[first : last + 1] == mask[first : last + 1]))
            edges = np.flatnonzero(mask)[[0, -1]]
            onset.append(abs(edges[0] - first) * 10)
            offset.append(abs(edges[1] - last) * 10)
        print(
            f"{language:5} {'+'.join(sorted(methods)):17} {np.median(agree):12.3f} "
            f"{np.percentile(agree, 10):6.3f} {np.median(onset):8.0f} {np.median(offset):9.0f} "
            f"{seconds / n_prompts:6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=25)
    args = parser.parse_args()
    synthetic_table(args.sentences)
    real_table(args.prompts)


if __name__ == "__main__":
    main()
