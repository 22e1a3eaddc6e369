/**
 * In-call keys: `*` followed by one digit, as conference bridges do (`*6` mute, the common
 * convention). A pure state machine: it is fed each DTMF digit with the time it arrived and says
 * which action, if any, the sequence completes. No timers inside; a `*` left alone longer than the
 * timeout is forgotten when the next key arrives.
 *
 * The key map (also in the README):
 *
 * | keys | action |
 * |---|---|
 * | `*6` | mute / unmute yourself (a low tone: muted; two high pips: unmuted) |
 * | `*7` | listening volume down 3 dB (to -12 dB) |
 * | `*9` | listening volume up 3 dB (to +12 dB) |
 * | `*5` | participant count, in tones (each digit as that many pips, 0 as a long tone) |
 * | `*8` | leave the conference (you hear the goodbye) |
 *
 * Moderators only (issue 17; anyone else hears the two low "nothing changed" pips):
 *
 * | keys | action |
 * |---|---|
 * | `*1` | mute everyone but the moderators (hard mute); again: unmute them |
 * | `*2` | lock the room (nobody new gets in); again: unlock |
 * | `*3` | remove the participant who joined last (not a moderator) |
 */

export type KeyAction = 'toggle-mute' | 'volume-down' | 'volume-up' | 'count' | 'leave' | 'mute-all' | 'lock' | 'kick-last';

/** The actions only a moderator may take. */
export const MODERATOR_ACTIONS: ReadonlySet<KeyAction> = new Set<KeyAction>(['mute-all', 'lock', 'kick-last']);

/** The digit after `*` for each action. */
export const KEY_MAP: Readonly<Record<string, KeyAction>> = Object.freeze({
  '6': 'toggle-mute',
  '7': 'volume-down',
  '9': 'volume-up',
  '5': 'count',
  '8': 'leave',
  '1': 'mute-all',
  '2': 'lock',
  '3': 'kick-last',
});

/** A `*` waits this long for its digit (ms). */
export const KEY_SEQUENCE_TIMEOUT_MS = 3000;

/** Listening volume step of `*7` / `*9` (dB). */
export const VOLUME_STEP_DB = 3;

export class KeySequence {
  private starAtMs: number | null = null;

  constructor(
    private readonly timeoutMs = KEY_SEQUENCE_TIMEOUT_MS,
    private readonly map: Readonly<Record<string, KeyAction>> = KEY_MAP,
  ) {}

  /** True while a `*` waits for its digit (as of the last key). */
  get armed(): boolean {
    return this.starAtMs !== null;
  }

  /**
   * One key (`0`-`9`, `*`, `#`) at `nowMs`. Returns the action a `*` + digit completes, or null:
   * a lone digit, an unmapped digit, `#`, or a digit after the `*` timed out. `**` re-arms.
   */
  press(digit: string, nowMs: number): KeyAction | null {
    if (this.starAtMs !== null && nowMs - this.starAtMs > this.timeoutMs) this.starAtMs = null;
    if (digit === '*') {
      this.starAtMs = nowMs;
      return null;
    }
    if (this.starAtMs === null) return null;
    this.starAtMs = null;
    return Object.hasOwn(this.map, digit) ? this.map[digit]! : null;
  }
}
