// The phone bridge, in the audio thread: the microphone at the context's rate -> 8 kHz G.711
// mu-law frames of 20 ms (160 bytes) for the main thread to send; 8 kHz mu-law frames from the
// server -> the context's rate, through a small playout buffer. Marks are echoed when the audio
// sent before them has been played, as Twilio does. The input arrives low-passed (two biquads
// at 3.4 kHz in the main thread's graph), so linear interpolation is enough to resample.

const SAMPLES_PER_FRAME = 160;
const PHONE_RATE_HZ = 8000;
const BIAS = 0x84;
const CLIP = 32635;

function encodeMulaw(sample) {
  let sign = 0;
  let magnitude = sample;
  if (magnitude < 0) {
    sign = 0x80;
    magnitude = -magnitude;
  }
  magnitude += BIAS;
  if (magnitude > CLIP) magnitude = CLIP;
  const exponent = Math.max(0, 31 - Math.clz32(magnitude) - 7);
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const DECODE = new Float32Array(256);
for (let code = 0; code < 256; code++) {
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  DECODE[code] = (inverted & 0x80 ? -magnitude : magnitude) / 32768;
}

class PhoneBridge extends AudioWorkletProcessor {
  constructor() {
    super();
    // Input samples per 8 kHz sample.
    this.step = sampleRate / PHONE_RATE_HZ;
    this.t = 0;
    this.prev = 0;
    this.frame = new Uint8Array(SAMPLES_PER_FRAME);
    this.frameLength = 0;
    this.muted = false;
    // Playout: a ring of 8 kHz samples, 2 s.
    this.ring = new Float32Array(PHONE_RATE_HZ * 2);
    this.written = 0; // samples ever written
    this.read = 0; // position (fractional) in samples ever written
    this.playing = false;
    this.marks = [];
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    if (message.type === 'play') {
      const codes = message.mulaw;
      for (let i = 0; i < codes.length; i++) this.ring[(this.written + i) % this.ring.length] = DECODE[codes[i]];
      this.written += codes.length;
      const buffered = this.written - this.read;
      // More than 400 ms behind: drop down to 100 ms (a stall's backlog).
      if (buffered > 0.4 * PHONE_RATE_HZ) this.read = this.written - 0.1 * PHONE_RATE_HZ;
    } else if (message.type === 'mark') {
      this.marks.push({ at: this.written, name: message.name });
    } else if (message.type === 'clear') {
      this.read = this.written;
      this.playing = false;
      for (const m of this.marks) this.port.postMessage({ type: 'mark', name: m.name });
      this.marks = [];
    } else if (message.type === 'mute') {
      this.muted = message.muted;
    }
  }

  process(inputs, outputs) {
    const input = inputs[0] && inputs[0][0];
    if (input && input.length) this.capture(input);
    const output = outputs[0] && outputs[0][0];
    if (output) this.playout(output);
    return true;
  }

  capture(input) {
    const n = input.length;
    let t = this.t;
    // t: position of the next 8 kHz sample in this block's samples (-1: between prev and input[0]).
    while (t <= n - 1) {
      const i = Math.floor(t);
      const f = t - i;
      const a = i < 0 ? this.prev : input[i];
      const b = input[Math.min(i + 1, n - 1)];
      const x = this.muted ? 0 : a + (b - a) * f;
      const s = Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
      this.frame[this.frameLength++] = encodeMulaw(s);
      if (this.frameLength === SAMPLES_PER_FRAME) {
        this.port.postMessage({ type: 'frame', mulaw: this.frame }, [this.frame.buffer]);
        this.frame = new Uint8Array(SAMPLES_PER_FRAME);
        this.frameLength = 0;
      }
      t += this.step;
    }
    this.t = t - n;
    this.prev = input[n - 1];
  }

  playout(output) {
    const perSample = PHONE_RATE_HZ / sampleRate;
    // Start (or restart after running dry) with 60 ms queued: no crackle from a thin buffer.
    if (!this.playing && this.written - this.read >= 0.06 * PHONE_RATE_HZ) this.playing = true;
    for (let j = 0; j < output.length; j++) {
      if (!this.playing || this.written - this.read < 2) {
        this.playing = false;
        output[j] = 0;
        continue;
      }
      const i = Math.floor(this.read);
      const f = this.read - i;
      const a = this.ring[i % this.ring.length];
      const b = this.ring[(i + 1) % this.ring.length];
      output[j] = a + (b - a) * f;
      this.read += perSample;
    }
    while (this.marks.length && this.marks[0].at <= this.read) this.port.postMessage({ type: 'mark', name: this.marks.shift().name });
  }
}

registerProcessor('phone-bridge', PhoneBridge);
