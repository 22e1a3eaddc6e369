#!/usr/bin/env bash
# Regenerates the spoken prompts the server plays into a call (src/library/bundled/prompts/):
#   moderator-muted.wav   "The moderator has muted you." (a hard mute, and a *6 it refuses)
# 8 kHz mono 16-bit, leading and trailing silence trimmed, peak -16 dBFS like the other cues
# (src/audio/tones.ts), 50 ms of silence each side. Synthetic speech (espeak-ng), no recordings.
#
# Usage (from anywhere):  npm run prompts   (or bash tools/make-prompts.sh)
# Needs espeak-ng and sox (apt-get install espeak-ng sox). The server only reads the committed files.
# Deterministic for a given espeak-ng/sox version (sox -R, no dither).
set -euo pipefail

missing=()
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  echo "make-prompts: missing ${missing[*]}; install with: apt-get install espeak-ng sox" >&2
  exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=src/library/bundled/prompts
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# prompt NAME TEXT
prompt() {
  local name=$1 text=$2
  espeak-ng -v en-us+f2 -p 50 -s 160 -w "$work/$name.wav" "$text"
  sox -R -D "$work/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav" \
    silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse \
    rate 8k gain -n -16 pad 0.05 0.05
}

prompt moderator-muted "The moderator has muted you."
echo "make-prompts: wrote $(ls "$out" | tr '\n' ' ')"
