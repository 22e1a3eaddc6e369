/**
 * One 20 ms frame of mixed audio, encoded as mu-law, with its base64 text made on first demand
 * and then shared: every listener who hears the same mix (everyone not talking) is handed the
 * same OutboundFrame, so the room encodes and base64s it once per tick, not once per listener.
 * The conference core never formats wire messages; the transport asks for `base64()`.
 */
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import { encodeMulaw } from '../audio/mulaw.js';

const EMPTY = new Int16Array(SAMPLES_PER_FRAME);

export class OutboundFrame {
  /** Mu-law codes of this tick's mix; a Buffer so base64 needs no copy. */
  readonly mulaw: Buffer = Buffer.allocUnsafeSlow(SAMPLES_PER_FRAME);
  /**
   * The PCM this tick's mu-law was made from (the mixer's own buffer, valid until its next tick):
   * what a program that takes raw PCM is sent, without mu-law's quantisation. Not a copy.
   */
  pcm: Int16Array = EMPTY;
  private text: string | null = null;

  /** Re-fills this frame from PCM for a new tick. */
  encode(pcm: Int16Array): void {
    this.pcm = pcm;
    encodeMulaw(pcm, this.mulaw);
    this.text = null;
  }

  base64(): string {
    if (this.text === null) this.text = this.mulaw.toString('base64');
    return this.text;
  }
}
