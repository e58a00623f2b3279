#!/usr/bin/env bash
# Ensure the Debian packages avgen's data kit and tests need are present.
# As root: installs the missing ones (apt-get update first). Otherwise: prints the exact
# command to run and exits 1. Quick (one dpkg-query) when everything is already there.
set -euo pipefail

PACKAGES=(
  flite                         # TTS voices kal16/awb/rms/slt with phone timing (-psdur)
  festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k
  espeak-ng libespeak-ng1       # many voices; phoneme events via libespeak-ng
  sox ffmpeg                    # audio/video tools (mp4 lips videos)
  asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722
  asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722
  asterisk-core-sounds-en       # English transcripts (core-sounds-en.txt.gz)
  asterisk-core-sounds-es asterisk-core-sounds-fr asterisk-core-sounds-it
  asterisk-core-sounds-ru       # transcripts of the other languages' prompts
  ufoai-sound                   # real ambience recordings for the noise bank
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "avgen needs these Debian packages; run as root:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$line -qq
