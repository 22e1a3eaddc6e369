/**
 * Conference status callbacks (STATUS_CALLBACK_URL): the server POSTs each conference event,
 * form-encoded like Twilio's conference status callbacks, to the operator's URL.
 *
 * Events are enqueued synchronously from the conference's events (nothing on the mixer's path
 * waits for the network) and sent one at a time, in order, by an async loop. A failed POST
 * (network error, timeout, non-2xx) is retried after each of `retryDelaysMs`; after the last it
 * is logged once and dropped, and the next event goes. The queue is bounded: past `maxQueue` the
 * oldest waiting event is dropped and counted.
 *
 * Fields of every event: StatusCallbackEvent, SequenceNumber (1, 2, 3 ... across the server,
 * from start), Timestamp (RFC 2822, as Twilio), FriendlyName and Room (the room number).
 * Participant events add CallSid, Seat, Muted, Hold, Label (the participant's label, empty for none) and
 * StartConferenceOnEnter (true for a moderator, as Twilio's); participant-leave adds Reason (a leave reason,
 * src/conference/leaveReason.ts); conference-end adds ReasonConferenceEnded: the last leave's
 * (same table), or room-failed when the room's tick failed. A dial-out's call events
 * (call-initiated, call-ringing, call-answered, call-completed) add CallSid, To, CallStatus
 * (Twilio's: completed, busy, no-answer, failed, canceled on call-completed), Moderator, and Label
 * when it has one (src/http/dialOut.ts).
 * A room that waits for its moderator
 * (waitForModerator) sends conference-start when the first moderator joins and starts it, not when
 * the first caller opens it; ended before any moderator came, it sends conference-end all the same.
 * announcement-end (played to its end)
 * and announcement-fail (stopped early: the room closed, or the caller it was for left) add
 * AnnouncementSid, Audio, Completed and, for one caller's, CallSid.
 *
 * With a secret (STATUS_CALLBACK_SECRET) every attempt carries X-Conference-Signature, signed when
 * it is sent (src/events/verifyStatusCallback.ts says how, and checks it).
 */
import type { Conference } from '../conference/conference.js';
import { LEAVE_REASONS, type LeaveReason } from '../conference/leaveReason.js';
import type { Moderation } from '../conference/moderation.js';
import type { Participant } from '../conference/participant.js';
import type { Logger } from '../log.js';
import type { SpeechActivity } from './speech.js';
import { signStatusCallback, STATUS_CALLBACK_SIGNATURE_HEADER } from './verifyStatusCallback.js';

export const STATUS_EVENTS = [
  'conference-start',
  'conference-end',
  'participant-join',
  'participant-leave',
  'participant-mute',
  'participant-unmute',
  'participant-hold',
  'participant-unhold',
  'participant-speech-start',
  'participant-speech-stop',
  'recording-started',
  'recording-stopped',
  // A dial-out's call (POST /api/rooms/:id/participants), as Twilio names a call's progress events.
  'call-initiated',
  'call-ringing',
  'call-answered',
  'call-completed',
  'announcement-end',
  'announcement-fail',
] as const;
export type StatusEvent = (typeof STATUS_EVENTS)[number];

/**
 * Sends one form body (with `headers` added); resolves with the HTTP status, rejects on a network
 * error or timeout.
 */
export type PostForm = (url: string, body: string, timeoutMs: number, headers: Readonly<Record<string, string>>) => Promise<number>;

export const fetchPost: PostForm = async (url, body, timeoutMs, headers) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'twilio-conference-mixer' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.arrayBuffer().catch(() => undefined); // drain, so the connection is reused
  return response.status;
};

export interface StatusCallbackOptions {
  url: string;
  /** Signs every POST (X-Conference-Signature); undefined: unsigned. */
  secret?: string;
  log: Logger;
  post?: PostForm;
  /** Waits before each retry (ms); its length is the number of retries. */
  retryDelaysMs?: readonly number[];
  timeoutMs?: number;
  maxQueue?: number;
  /** Wall clock for Timestamp. */
  now?: () => Date;
}

export interface StatusCallbackStats {
  enqueued: number;
  delivered: number;
  /** Gave up after every retry. */
  failed: number;
  /** Dropped unsent: queue full, or still queued at shutdown. */
  dropped: number;
  queued: number;
}

interface Pending {
  sequence: number;
  event: StatusEvent;
  body: string;
}

/** Twilio's timestamp format: "Tue, 21 Nov 2023 11:54:34 +0000". */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

export class StatusCallbacks {
  private sequence = 0;
  private readonly queue: Pending[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly post: PostForm;
  private readonly retryDelaysMs: readonly number[];
  private readonly wakeups = new Set<() => void>();
  readonly stats: StatusCallbackStats = { enqueued: 0, delivered: 0, failed: 0, dropped: 0, queued: 0 };

  constructor(private readonly options: StatusCallbackOptions) {
    this.post = options.post ?? fetchPost;
    this.retryDelaysMs = options.retryDelaysMs ?? [500, 2000, 5000];
  }

  /** Subscribes to the conference's events (and the talk hook's, and the moderation's). */
  attach(conference: Conference, speech: SpeechActivity, moderation?: Moderation): void {
    /** The last leave reason per room, and rooms whose tick failed, to say why a conference ended. */
    const lastLeave = new Map<string, LeaveReason>();
    const failed = new Set<string>();
    conference.on('roomFailed', (room) => failed.add(room.id));
    conference.on('roomOpened', (room) => {
      // Waiting for its moderator: the conference starts when the moderator starts it (below).
      if (!room.waitingForModerator) this.enqueue('conference-start', { FriendlyName: room.id, Room: room.id });
    });
    moderation?.on('started', (room) => this.enqueue('conference-start', { FriendlyName: room.id, Room: room.id }));
    conference.on('roomClosed', (room) => {
      const ended = failed.delete(room.id) ? 'room-failed' : LEAVE_REASONS[lastLeave.get(room.id) ?? 'hangup'].conferenceEnded;
      lastLeave.delete(room.id);
      this.enqueue('conference-end', { FriendlyName: room.id, Room: room.id, ReasonConferenceEnded: ended });
    });
    conference.on('participantJoined', (p) => this.enqueue('participant-join', participantFields(p)));
    conference.on('participantLeft', (p, room, reason) => {
      lastLeave.set(room.id, reason);
      this.enqueue('participant-leave', { ...participantFields(p), Reason: reason });
    });
    conference.on('participantMuted', (p, muted) => this.enqueue(muted ? 'participant-mute' : 'participant-unmute', participantFields(p)));
    conference.on('participantHeld', (p, onHold) => this.enqueue(onHold ? 'participant-hold' : 'participant-unhold', participantFields(p)));
    speech.on('speech', (p, talking) => this.enqueue(talking ? 'participant-speech-start' : 'participant-speech-stop', participantFields(p)));
  }

  /** Queues one event (synchronous, never throws) and makes sure the sender runs. */
  enqueue(event: StatusEvent, fields: Record<string, string>): void {
    if (this.closed) return;
    const sequence = ++this.sequence;
    const now = (this.options.now ?? (() => new Date()))();
    const body = new URLSearchParams({ StatusCallbackEvent: event, SequenceNumber: String(sequence), Timestamp: rfc2822(now), ...fields }).toString();
    this.queue.push({ sequence, event, body });
    this.stats.enqueued++;
    if (this.queue.length > (this.options.maxQueue ?? 10_000)) {
      const dropped = this.queue.shift()!; // the oldest waiting (the one in flight is not queued)
      this.stats.dropped++;
      this.options.log.warn({ sequence: dropped.sequence, event: dropped.event }, 'status callback queue full: oldest event dropped');
    }
    this.stats.queued = this.queue.length;
    this.kick();
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.kick(); // enqueued while the loop was finishing
    });
  }

  /** Sends what is queued for at most `graceMs`, then drops the rest. Idempotent. */
  async close(graceMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([this.idle(), deadline]);
    clearTimeout(timer);
    this.closed = true;
    this.stats.dropped += this.queue.length;
    this.queue.length = 0;
    this.stats.queued = 0;
    for (const wake of this.wakeups) wake();
  }

  /** Resolves when everything queued so far has been delivered or given up. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      // Taken off the queue while in flight: a full queue drops the oldest waiting event, not this.
      const item = this.queue.shift()!;
      this.stats.queued = this.queue.length;
      await this.deliver(item);
    }
  }

  private async deliver(item: Pending): Promise<void> {
    const attempts = this.retryDelaysMs.length + 1;
    let last = '';
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      try {
        const status = await this.post(this.options.url, item.body, this.options.timeoutMs ?? 5000, this.headers(item.body));
        if (status >= 200 && status < 300) {
          this.stats.delivered++;
          return;
        }
        last = `HTTP ${status}`;
      } catch (error) {
        last = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      if (attempt < attempts) {
        this.options.log.debug({ sequence: item.sequence, event: item.event, attempt, error: last }, 'status callback failed; will retry');
        await this.sleep(this.retryDelaysMs[attempt - 1]!);
      }
    }
    this.stats.failed++;
    this.options.log.warn({ sequence: item.sequence, event: item.event, attempts, error: last }, 'status callback not delivered; dropped');
  }

  /** The signature of one attempt, made as it is sent (a retry is signed anew). */
  private headers(body: string): Record<string, string> {
    const { secret, url } = this.options;
    if (!secret) return {};
    const nowSeconds = (this.options.now ?? (() => new Date()))().getTime() / 1000;
    return { [STATUS_CALLBACK_SIGNATURE_HEADER]: signStatusCallback(secret, url, body, nowSeconds) };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms); // not unref'd: close() wakes it
      this.wakeups.add(wake);
    });
  }
}

function participantFields(p: Participant): Record<string, string> {
  return {
    FriendlyName: p.roomId,
    Room: p.roomId,
    CallSid: p.callSid,
    Seat: p.info.seat !== undefined ? String(p.info.seat) : '',
    Muted: String(p.muted),
    Hold: String(p.onHold),
    Label: p.info.label ?? '',
    StartConferenceOnEnter: String(p.info.moderator === true),
  };
}
