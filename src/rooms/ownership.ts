/**
 * Where a room is mixed, as the webhooks and the media endpoint ask it: the port that a single
 * process answers with "here, always" (LocalOwnership) and a cluster answers with leases and a
 * fence (cluster/ownership.ts). Here, so that single-process code never imports cluster/.
 */
import { EventEmitter } from 'node:events';

/** Another node, as far as a redirect needs it. */
export interface RemoteNode {
  id: string;
  /** Public path prefix that routes to that node through the proxy, e.g. "/p/2". */
  publicPrefix: string;
}

export type Resolution =
  | { kind: 'self'; epoch: number }
  | { kind: 'remote'; node: RemoteNode }
  /** No live node can take the room now (the store unreachable, or no node alive). */
  | { kind: 'unavailable'; why: string };

export interface OwnershipEvents {
  /** This node no longer owns `room` (lease lost or expired): stop mixing it now. */
  fenced: [room: string, epoch: number, why: string];
}

export interface RoomOwnership extends EventEmitter<OwnershipEvents> {
  readonly clustered: boolean;
  /**
   * Who mixes `room`; places a new room. `suspectOwner`: the caller's stream just dropped, so the
   * owner is asked directly whether it is alive (its heartbeat may still be fresh after a crash).
   */
  resolve(room: string, options?: { suspectOwner?: boolean }): Promise<Resolution>;
  /** True when a stream carrying `epoch` may join `room` here now (synchronous). */
  mayStart(room: string, epoch: number): boolean;
  /** Gives up rooms whose lease may have run out; call before mixing (synchronous, no I/O). */
  enforce(nowMs: number): void;
  /** Rooms this node holds a lease for. */
  heldRooms(): number;
  start(): void;
  /** Stops renewing; releases held leases (best effort) when `release`. */
  stop(release: boolean): Promise<void>;
}

/** One process: every room is ours. */
export class LocalOwnership extends EventEmitter<OwnershipEvents> implements RoomOwnership {
  readonly clustered = false;
  async resolve(): Promise<Resolution> {
    return { kind: 'self', epoch: 0 };
  }
  mayStart(): boolean {
    return true;
  }
  enforce(): void {}
  heldRooms(): number {
    return 0;
  }
  start(): void {}
  async stop(): Promise<void> {}
}

/**
 * Calls whose stream ended on purpose (left with the leave key, removed, conference ended): the
 * rejoin webhook, on whichever node Twilio reaches, says goodbye to these instead of rejoining them.
 */
export interface CallOutcomes {
  markEnded(callSid: string, reason: string): void;
  /** True (once) when `callSid` ended on purpose. */
  takeEnded(callSid: string): Promise<boolean>;
}

/** How long the mark of a call that ended on purpose waits for Twilio's rejoin request (ms). */
export const ENDED_MARK_MS = 120_000;

/** One process: the marks in memory (Twilio asks within seconds, of the process that ended the call). */
export class LocalCallOutcomes implements CallOutcomes {
  /** callSid -> when the mark lapses (clock ms); insertion order is age order. */
  private readonly ended = new Map<string, number>();

  constructor(private readonly clock: { nowMs(): number }) {}

  markEnded(callSid: string): void {
    const now = this.clock.nowMs();
    for (const [sid, until] of this.ended) {
      if (until > now) break;
      this.ended.delete(sid);
    }
    this.ended.delete(callSid);
    this.ended.set(callSid, now + ENDED_MARK_MS);
  }

  async takeEnded(callSid: string): Promise<boolean> {
    const until = this.ended.get(callSid);
    this.ended.delete(callSid);
    return until !== undefined && until > this.clock.nowMs();
  }
}
