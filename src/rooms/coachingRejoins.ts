/**
 * Coaching kept across a rejoin and a restart. A call that left without meaning to (its stream
 * broke, the server restarted) keeps whom it coached, or who coached it (src/rooms/callStates.ts);
 * when it is back, the coaching is restored as soon as both calls are in the room again, whichever
 * comes back first:
 *
 * - the coach is back, its coached call is not (yet): the coach is muted, as the API leaves a coach
 *   whose caller left, so the room does not hear the whisper; the coaching and its own mute come
 *   back with the coached call;
 * - the coached call is back, a coach of it is not (yet): it waits for the coach;
 * - the coached call is back and its coach stayed (muted when the call left): the coaching and the
 *   coach's mute as it was before are restored.
 *
 * A pair whose other call is not back within `ttlMs` (the kept state's TTL) is forgotten: the coach
 * stays a plain muted participant, as when the coached call leaves for good.
 *
 * Not on the 20 ms path: runs on a participant's join.
 */
import type { Conference } from '../conference/conference.js';
import type { CoachKept, Participant } from '../conference/participant.js';
import type { Logger } from '../log.js';
import type { Clock } from '../timing/clock.js';

interface PendingPair {
  coach: string;
  coached: string;
  room: string;
  /** The coach's mute to restore with the coaching (it was muted because its call was gone); null: leave it. */
  restore: Omit<CoachKept, 'callSid'> | null;
  untilMs: number;
}

export interface CoachingRejoinsOptions {
  conference: Conference;
  clock: Clock;
  log: Logger;
  /** How long a pair waits for its other call (ms); the kept state's TTL. */
  ttlMs: number;
  /** Pairs kept at most (the oldest go first). Default 10,000. */
  maxPairs?: number;
}

export class CoachingRejoins {
  /** By coach CallSid: a coach coaches one call. */
  private readonly pending = new Map<string, PendingPair>();

  constructor(private readonly options: CoachingRejoinsOptions) {
    options.conference.on('participantJoined', (p) => {
      if (p.info.rejoined) this.rejoined(p);
      else if (this.pending.size > 0) this.complete(p.callSid);
    });
  }

  /** Pairs waiting for a call. */
  get size(): number {
    return this.pending.size;
  }

  private rejoined(p: Participant): void {
    const nowMs = this.options.clock.nowMs();
    for (const [coach, pair] of this.pending) if (pair.untilMs < nowMs) this.pending.delete(coach);
    const state = p.info.state;
    const untilMs = nowMs + this.options.ttlMs;
    if (state?.coaching) this.add({ coach: p.callSid, coached: state.coaching, room: p.roomId, restore: null, untilMs });
    for (const c of state?.coaches ?? []) {
      this.add({ coach: c.callSid, coached: p.callSid, room: p.roomId, restore: { muted: c.muted, ...(c.hardMuted ? { hardMuted: true } : {}) }, untilMs });
    }
    if (this.pending.size > 0) this.complete(p.callSid);
  }

  private add(pair: PendingPair): void {
    const existing = this.pending.get(pair.coach);
    // The same pair from both calls' kept states: the coach's mute before the leave is the one to keep.
    if (existing && existing.coached === pair.coached) existing.restore ??= pair.restore;
    else this.pending.set(pair.coach, pair);
    const max = this.options.maxPairs ?? 10_000;
    for (const coach of this.pending.keys()) {
      if (this.pending.size <= max) break;
      this.pending.delete(coach);
    }
  }

  /** Restores every waiting pair `callSid` completes; a coach back alone is muted meanwhile. */
  private complete(callSid: string): void {
    const { conference, log } = this.options;
    for (const pair of [...this.pending.values()]) {
      if (pair.coach !== callSid && pair.coached !== callSid) continue;
      const coach = conference.participant(pair.coach);
      const coached = conference.participant(pair.coached);
      if (!coach || coach.roomId !== pair.room) continue;
      if (!coached || coached.roomId !== pair.room) {
        // The coach is back first: not heard by the room until its caller is back.
        if (pair.restore === null) {
          pair.restore = { muted: coach.muted, ...(coach.hardMuted ? { hardMuted: true } : {}) };
          conference.setMuted(coach.callSid, true);
          log.info(
            { callSid: coach.callSid, room: pair.room, coached: pair.coached },
            'coaching: the coach is back before its caller; muted until the caller is back',
          );
        }
        continue;
      }
      this.pending.delete(pair.coach);
      const refused = conference.setCoaching(coach.callSid, coached.callSid);
      if (refused !== null) {
        log.info({ callSid: coach.callSid, room: pair.room, coached: coached.callSid, why: refused }, 'coaching: not restored after the rejoin');
        continue;
      }
      if (pair.restore) conference.setMuted(coach.callSid, pair.restore.muted, pair.restore.hardMuted ? 'moderator' : 'self');
      log.info({ callSid: coach.callSid, room: pair.room, coached: coached.callSid }, 'coaching: restored after the rejoin');
    }
  }
}
