/**
 * RFC 6455 parsing of the client's inbound frames straight from the socket's chunks, for the
 * frames Twilio sends 50 times a second: whole, masked, unfragmented ASCII text frames (and pongs).
 * The other half of wsFrame.ts. ws's Receiver is a Writable stream: each chunk goes through the
 * stream machinery, then the message is copied into a new Buffer and emitted twice (receiver,
 * then WebSocket) before the endpoint turns it into a string; here the payload is unmasked into
 * one reused buffer and handed over as bytes (the per-message cost is most of the media path's).
 *
 * Anything else (a close or ping frame, a binary or fragmented message, reserved bits, a payload
 * over `maxPayloadBytes`, non-ASCII text, an unmasked frame) is handed, from the first byte of that
 * frame on, to ws's own parser for good (`handOff`), so that ws answers it exactly as it always
 * did: close handshakes, 1002/1007/1009 closes. Pure: no socket here; the endpoint wires it.
 */

/** What the parser delivers. */
export interface InboundSink {
  /**
   * One whole text message of ASCII bytes at `bytes[0, length)`. The buffer is reused for the
   * next message: read it before returning.
   */
  text(bytes: Buffer, length: number): void;
  /** A pong frame (the heartbeat's answer). */
  pong(): void;
}

const OPCODE_TEXT = 0x1;
const OPCODE_PONG = 0xa;
/** Largest control frame payload (RFC 6455 5.5). */
const MAX_CONTROL_PAYLOAD = 125;

export class InboundFrames {
  /** Bytes of a frame whose end has not arrived yet. */
  private pending: Buffer | null = null;
  private handedOff = false;
  /** Unmasked payloads land here (word-aligned), seen as bytes and as 32-bit words. */
  private readonly unmasked: Buffer;
  private readonly words: Uint32Array;
  /** The frame's masking key, as bytes and as one word in the machine's byte order. */
  private readonly key32 = new Uint32Array(1);
  private readonly key8 = new Uint8Array(this.key32.buffer);

  constructor(
    private readonly sink: InboundSink,
    private readonly maxPayloadBytes: number,
    /** Takes every byte from here on (the rest of this chunk first): ws's own parser. */
    private readonly handOff: (rest: Buffer) => void,
  ) {
    // Whole words, one spare: the last partial word is XORed whole.
    const words = Math.ceil(maxPayloadBytes / 4) + 1;
    this.words = new Uint32Array(words);
    this.unmasked = Buffer.from(this.words.buffer, 0, words * 4);
  }

  /** True once the rest of the stream went to ws. */
  get isHandedOff(): boolean {
    return this.handedOff;
  }

  /** One chunk as the socket delivered it. */
  push(chunk: Buffer): void {
    if (this.handedOff) return this.handOff(chunk);
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const end = buf.length;
    let pos = 0;
    while (end - pos >= 2) {
      const b0 = buf[pos]!;
      const b1 = buf[pos + 1]!;
      const opcode = b0 & 0x0f;
      // FIN set, no reserved bits, masked (a client's frames must be), a text or pong frame.
      if ((b0 & 0xf0) !== 0x80 || (b1 & 0x80) === 0 || (opcode !== OPCODE_TEXT && opcode !== OPCODE_PONG)) return this.giveUp(buf, pos);
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (end - pos < 4) break;
        length = (buf[pos + 2]! << 8) | buf[pos + 3]!;
        header = 4;
      } else if (length === 127) {
        return this.giveUp(buf, pos);
      }
      if (length > this.maxPayloadBytes || (opcode === OPCODE_PONG && length > MAX_CONTROL_PAYLOAD)) return this.giveUp(buf, pos);
      const dataStart = pos + header + 4;
      if (end < dataStart + length) break;
      if (opcode === OPCODE_PONG) {
        pos = dataStart + length;
        this.sink.pong();
        continue;
      }
      // Unmasked a word at a time: copied (memcpy) into the aligned buffer, then XORed in place with
      // the 4-byte key read as one word in the machine's byte order.
      buf.copy(this.unmasked, 0, dataStart, dataStart + length);
      this.key8[0] = buf[dataStart - 4]!;
      this.key8[1] = buf[dataStart - 3]!;
      this.key8[2] = buf[dataStart - 2]!;
      this.key8[3] = buf[dataStart - 1]!;
      const key = this.key32[0]!;
      const words = this.words;
      const whole = length >> 2;
      let high = 0;
      for (let w = 0; w < whole; w++) {
        const x = words[w]! ^ key;
        words[w] = x;
        high |= x;
      }
      if (whole * 4 < length) words[whole] = words[whole]! ^ key;
      const out = this.unmasked;
      for (let i = whole * 4; i < length; i++) high |= out[i]!;
      // Not ASCII: ws checks the UTF-8 (and closes with 1007 where it is not).
      if (high & 0x80808080) return this.giveUp(buf, pos);
      pos = dataStart + length;
      this.sink.text(out, length);
    }
    // A frame cut by the transport: kept (copied: the chunk is the socket's) until the rest comes.
    if (pos < end) this.pending = Buffer.from(buf.subarray(pos));
  }

  private giveUp(buf: Buffer, pos: number): void {
    this.handedOff = true;
    this.pending = null;
    this.handOff(buf.subarray(pos));
  }
}
