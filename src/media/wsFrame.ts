/**
 * RFC 6455 framing of the server's outbound text messages, so that each one leaves in a single
 * socket write. ws's own send() converts the text to a Buffer, allocates a header and writes the
 * two with writev: on this VM 1.1-1.3 us (user + kernel) more per message than one write of a
 * prebuilt frame (`npm run bench -- --micro`, tools/bench/sendPath.ts). No socket here: the
 * endpoint writes the result.
 *
 * A frame from server to client is unmasked: FIN + opcode 1 (text), then the payload length in 7,
 * 7+16 or 7+64 bits. The frame is returned as a latin1 string (one char per byte), which the
 * socket writes without building a Buffer in JavaScript. Only ASCII text qualifies (JSON of
 * Twilio ids and base64 always is): for anything else the caller uses the ordinary send().
 */

/** Frames longer than this go through ws (a 64-bit length; never a media message). */
const MAX_FAST_PAYLOAD_BYTES = 0xffff;
const FIN_TEXT = String.fromCharCode(0x81);
/** The one-byte headers' second byte for every short length (0..125), made once. */
const SHORT: readonly string[] = Array.from({ length: 126 }, (_, n) => FIN_TEXT + String.fromCharCode(n));
const EXTENDED_16 = FIN_TEXT + String.fromCharCode(126);

/**
 * The whole unmasked text frame carrying `text`, as latin1, or null when `text` is not pure ASCII
 * or longer than 65,535 bytes.
 */
export function textFrameLatin1(text: string): string | null {
  const n = text.length;
  if (n > MAX_FAST_PAYLOAD_BYTES) return null;
  // UTF-8 takes two or more bytes for every non-ASCII UTF-16 unit (a lone surrogate too): equal
  // lengths mean ASCII, where latin1 and UTF-8 are the same bytes.
  if (Buffer.byteLength(text, 'utf8') !== n) return null;
  if (n < 126) return SHORT[n]! + text;
  return EXTENDED_16 + String.fromCharCode(n >> 8, n & 0xff) + text;
}

/**
 * One outbound text frame of the form `prefix + variable + suffix`, where only `variable` changes
 * from message to message and always has the same length (a media message's base64 payload): its
 * bytes are built once and refilled in place, so a message costs one copy of the payload and no
 * string building, no flattening and no garbage. The socket reports whether it let go of the bytes
 * (written through to the kernel); when it kept them (a socket that is not draining), `release()`
 * gives the template a fresh buffer and leaves the old one to the socket.
 */
export class TextFrameTemplate {
  private bytes: Buffer;

  /**
   * The template for `prefix`, `variableLength` bytes and `suffix`, or null when the frame would not
   * be pure ASCII or would not fit the fast path (see textFrameLatin1).
   */
  static of(prefix: string, suffix: string, variableLength: number): TextFrameTemplate | null {
    const text = prefix + 'A'.repeat(variableLength) + suffix;
    const frame = textFrameLatin1(text);
    return frame === null ? null : new TextFrameTemplate(frame, frame.length - text.length + prefix.length, variableLength);
  }

  private constructor(
    private readonly frame: string,
    private readonly variableOffset: number,
    readonly variableLength: number,
  ) {
    this.bytes = Buffer.from(frame, 'latin1');
  }

  /**
   * The whole frame with `variable` in place, or null when `variable` is not `variableLength` long.
   * `variable` must be ASCII (base64 is): its chars are written as bytes, unchecked.
   */
  fill(variable: string): Buffer | null {
    if (variable.length !== this.variableLength) return null;
    this.bytes.write(variable, this.variableOffset, 'latin1');
    return this.bytes;
  }

  /** The socket still holds the last frame: the next one is built in a buffer of its own. */
  release(): void {
    this.bytes = Buffer.from(this.frame, 'latin1');
  }
}
