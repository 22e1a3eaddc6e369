/**
 * Per-address limits on the web entry (/join/ticket), so a script cannot hold a server's seats:
 *
 * - seats: at most `maxSeats` calls admitted for one address hold a seat at once (reserved or
 *   taken; `isHolding` says which still do, so a ticket left unused frees its place when its short
 *   reservation lapses, and a browser that left frees its place at once);
 * - rate: at most `perMinute` admissions from one address in any 60 s.
 *
 * Memory is bounded: at most `maxAddresses` addresses are remembered; when full, those with
 * nothing left to remember are swept, then the oldest is forgotten. Pure: time comes from the caller.
 */

export interface EntryLimiterOptions {
  maxSeats: number;
  perMinute: number;
  maxAddresses: number;
}

export type EntryVerdict = { ok: true } | { ok: false; reason: 'seats' | 'rate'; retryAfterMs: number };

interface AddressState {
  /** Admission times (ms) in the last minute, oldest first. */
  admittedAtMs: number[];
  /** Calls admitted for this address that may still hold a seat. */
  callSids: Set<string>;
  /** Of those, the ones whose admission is still being decided (no seat yet, but counted). */
  pending: Set<string>;
}

const MINUTE_MS = 60_000;

export class EntryLimiter {
  private readonly byAddress = new Map<string, AddressState>();

  constructor(private readonly options: EntryLimiterOptions) {}

  /**
   * May `address` be admitted once more? `isHolding(callSid)`: does that call still hold a seat;
   * `seatRetryMs`: what to tell a client over its seat limit (when its next reservation may lapse).
   */
  check(address: string, nowMs: number, isHolding: (callSid: string) => boolean, seatRetryMs: number): EntryVerdict {
    const state = this.byAddress.get(address);
    if (!state) return { ok: true };
    this.prune(state, nowMs, isHolding);
    if (state.callSids.size >= this.options.maxSeats) return { ok: false, reason: 'seats', retryAfterMs: Math.max(1, seatRetryMs) };
    if (state.admittedAtMs.length >= this.options.perMinute) {
      return { ok: false, reason: 'rate', retryAfterMs: Math.max(1, state.admittedAtMs[0]! + MINUTE_MS - nowMs) };
    }
    return { ok: true };
  }

  /**
   * `address` is being admitted as `callSid` (after `check` said yes, before anything awaits): it
   * counts against both limits at once, so requests in flight together cannot all pass `check`.
   * `settle` says how it ended.
   */
  reserve(address: string, callSid: string, nowMs: number): void {
    let state = this.byAddress.get(address);
    if (!state) {
      if (this.byAddress.size >= this.options.maxAddresses) this.makeRoom(nowMs);
      state = { admittedAtMs: [], callSids: new Set(), pending: new Set() };
      this.byAddress.set(address, state);
    }
    state.admittedAtMs.push(nowMs);
    state.callSids.add(callSid);
    state.pending.add(callSid);
  }

  /** The admission reserved at `reservedAtMs` ended: admitted (it now holds a seat) or not (forgotten). */
  settle(address: string, callSid: string, reservedAtMs: number, admitted: boolean): void {
    const state = this.byAddress.get(address);
    if (!state?.pending.delete(callSid) || admitted) return;
    state.callSids.delete(callSid);
    const at = state.admittedAtMs.lastIndexOf(reservedAtMs);
    if (at >= 0) state.admittedAtMs.splice(at, 1);
  }

  /** Addresses remembered (for tests). */
  get size(): number {
    return this.byAddress.size;
  }

  private prune(state: AddressState, nowMs: number, isHolding?: (callSid: string) => boolean): void {
    while (state.admittedAtMs.length > 0 && state.admittedAtMs[0]! + MINUTE_MS <= nowMs) state.admittedAtMs.shift();
    if (isHolding) for (const callSid of state.callSids) if (!state.pending.has(callSid) && !isHolding(callSid)) state.callSids.delete(callSid);
  }

  private makeRoom(nowMs: number): void {
    for (const [address, state] of this.byAddress) {
      this.prune(state, nowMs);
      if (state.admittedAtMs.length === 0) this.byAddress.delete(address);
    }
    while (this.byAddress.size >= this.options.maxAddresses) {
      const oldest = this.byAddress.keys().next().value;
      if (oldest === undefined) break;
      this.byAddress.delete(oldest);
    }
  }
}
