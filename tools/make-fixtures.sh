#!/usr/bin/env bash
# Regenerates the audio fixtures in test/fixtures/ (see test/fixtures/README.md):
#   voices/{alice,bob,carol}.wav    three distinct synthetic speakers, 8 kHz mono 16-bit, peak -3 dBFS
#   tones/tone-{440,1000}hz.wav     3 s sines at -20 dBFS peak (-23 dBFS RMS), 10 ms fades
#   sessions/<name>.jsonl           each WAV as the Media Streams session Twilio would send
#   music/chords.wav                60 s of chords with rhythm (tools/make-music.ts), peak -6 dBFS
#   music/sung-vowel.wav            a 10 s sung "ah" (espeak-ng, held by sox's tempo), peak about -6 dBFS
#
# Usage (from anywhere; paths are relative to the repo root):  bash tools/make-fixtures.sh
# Needs espeak-ng and sox (apt-get install espeak-ng sox). The tests only read the committed files.
#
# Deterministic: sox runs with -R (fixed seeds) and -D (no dither), espeak-ng is deterministic, and
# the sessions are a pure function of the WAV and its name. Only other espeak-ng/sox versions can
# change the WAVs.
set -euo pipefail

missing=()
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  echo "make-fixtures: missing ${missing[*]}; install with: apt-get install espeak-ng sox" >&2
  exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
fixtures=test/fixtures
mkdir -p "$fixtures/voices" "$fixtures/tones" "$fixtures/sessions" "$fixtures/music"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The format every fixture has: Twilio's rate, mono, 16-bit signed PCM WAV.
out_format=(-r 8000 -c 1 -b 16 -e signed-integer)

# voice NAME TEXT ESPEAK-ARGS...
# espeak-ng speaks at 22050 Hz; sox trims the leading and trailing silence (threshold 0.5 % of full
# scale), resamples to 8 kHz, normalises the peak to -3 dBFS and pads 100 ms of silence each side.
voice() {
  local name=$1 text=$2
  shift 2
  espeak-ng "$@" -w "$work/$name.wav" "$text"
  sox -R -D "$work/$name.wav" "${out_format[@]}" "$fixtures/voices/$name.wav" \
    silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse \
    rate 8k gain -n -3 pad 0.1 0.1
}

# Female US voice, high pitch, a little fast.
voice alice "Good morning everyone, thanks for joining. Can you all hear me clearly?" \
  -v en-us+f3 -p 60 -s 175
# Male British voice, low pitch, a little slower.
voice bob "Yes, I can hear you perfectly. The weather in London is grey again." \
  -v en-gb+m3 -p 30 -s 160
# Female Scottish variant, very high pitch, a little faster.
voice carol "Let's start with the quarterly numbers, then we will talk about the new office." \
  -v en-gb-scotland+f5 -p 75 -s 170

# tone FREQ_HZ: 3 s sine at amplitude 0.1 of full scale (-20 dBFS peak), 10 ms fade in and out.
tone() {
  local hz=$1
  sox -R -D -n "${out_format[@]}" "$fixtures/tones/tone-${hz}hz.wav" \
    synth 3 sine "$hz" vol -20dB fade t 0.01 3 0.01
}

tone 440
tone 1000

# Issue 14: steady sounds the talk gate must let through from start to end.
# Music: synthesized by a script (no sox or espeak-ng involved).
npx tsx tools/make-music.ts "$fixtures/music/chords.wav"
# A sung vowel: espeak-ng holds "ah" for ~0.8 s at a steady pitch; sox keeps 0.45 s of its middle,
# stretches it 25 times at the same pitch (tempo, speech mode, twice 0.2x), cuts 10 s with 50 ms
# fades and normalises the peak to -6 dBFS.
espeak-ng -v en-us+m3 -p 45 -s 80 -w "$work/vowel.wav" "[[A::::::::::::::::::::::::::::::::::::::::]]"
sox -R -D "$work/vowel.wav" "${out_format[@]}" "$work/vowel-mid.wav" rate 8k silence 1 0.01 0.5% trim 0.15 0.45
sox -R -D "$work/vowel-mid.wav" "${out_format[@]}" "$fixtures/music/sung-vowel.wav" \
  tempo -s 0.2 tempo -s 0.2 trim 0.5 10 fade t 0.05 10 0.05 gain -n -6

for wav in "$fixtures"/voices/{alice,bob,carol}.wav "$fixtures"/tones/tone-{440,1000}hz.wav; do
  name=$(basename "$wav" .wav)
  npx tsx tools/wav-to-session.ts "$wav" "$fixtures/sessions/$name.jsonl"
done

echo "make-fixtures: done"
for wav in "$fixtures"/voices/*.wav "$fixtures"/tones/*.wav "$fixtures"/music/*.wav; do
  printf '  %-40s %s s\n' "$wav" "$(soxi -D "$wav")"
done
