/**
 * Invite links: what lets a browser without the PIN or the admin token into one room from /join.
 * The admin API (and the dashboard) makes one per room, with an expiry and optionally a number of
 * uses; it can be listed and revoked.
 *
 * Format (ASCII, in the link's fragment `#invite=`, so it is never sent in a Referer or a log line):
 *
 *     i1.<room>.<id>.<expiresAtSeconds>.<mac>
 *
 * - id: 12 random bytes, base64url: names the invite for listing and revocation;
 * - expiresAtSeconds: Unix time (wall clock);
 * - mac: base64url HMAC-SHA256(secret, "invite." + the fields before it joined by "."): the
 *   "invite." prefix keeps an invite from ever reading as a join ticket or a rejoin pass signed
 *   with the same key (JOIN_TICKET_SECRET), compared in constant time.
 *
 * The codec is pure (time is an argument). `Invites` adds the secret, the wall clock and the
 * memory: which invites exist, how many uses each has left, which were revoked. An unknown id is
 * refused even when its MAC is good, so a revoked invite can never come back. One process with a
 * database file keeps that memory in it (an `InviteStore`: src/rooms/sqliteInviteStore.ts), so
 * invites, their uses and revocations survive a restart; with ROOMS_DB_PATH=:memory: a restart voids
 * every invite, and in a cluster an invite works on the node that made it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../timing/clock.js';
import { sameSecret } from './bearer.js';

const VERSION = 'i1';
const FIELD = /^[A-Za-z0-9_-]{1,64}$/;
/** The longest an invite may live (s): a week. */
export const INVITE_MAX_TTL_SECONDS = 7 * 24 * 3600;
/** Invites remembered at most (expired ones are forgotten first). */
const MAX_INVITES = 10_000;

export interface InviteClaims {
  room: string;
  id: string;
  /** Unix time in seconds. */
  expiresAtSeconds: number;
}

export type InviteRefusal = 'malformed' | 'bad-signature' | 'other-room' | 'expired' | 'unknown' | 'revoked' | 'used-up';

export type InviteCheck = { ok: true; claims: InviteClaims } | { ok: false; reason: InviteRefusal };

function mac(secret: Buffer, fields: readonly string[]): string {
  return createHmac('sha256', secret)
    .update(`invite.${fields.join('.')}`)
    .digest('base64url');
}

/** The invite text for `claims`, signed with `secret`. */
export function encodeInvite(secret: Buffer, claims: InviteClaims): string {
  const fields = [VERSION, claims.room, claims.id, String(claims.expiresAtSeconds)];
  return [...fields, mac(secret, fields)].join('.');
}

/** Checks form, signature, room and expiry (`nowMs`: wall-clock ms); not revocation or uses. */
export function decodeInvite(secret: Buffer, invite: string, room: string, nowMs: number): InviteCheck {
  const parts = invite.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION || !parts.slice(1).every((p) => FIELD.test(p))) return { ok: false, reason: 'malformed' };
  const [, inviteRoom, id, expires, signature] = parts as [string, string, string, string, string];
  if (!/^[0-9]+$/.test(inviteRoom) || !/^[0-9]{1,12}$/.test(expires)) return { ok: false, reason: 'malformed' };
  if (!sameSecret(signature, mac(secret, parts.slice(0, 4)))) return { ok: false, reason: 'bad-signature' };
  if (inviteRoom !== room) return { ok: false, reason: 'other-room' };
  const expiresAtSeconds = Number(expires);
  if (nowMs >= expiresAtSeconds * 1000) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { room: inviteRoom, id, expiresAtSeconds } };
}

/** An invite as the admin API lists it. */
export interface InviteInfo {
  id: string;
  room: string;
  /** Unix ms. */
  expiresAtMs: number;
  /** Uses allowed; null: any number until it expires. */
  uses: number | null;
  used: number;
  revoked: boolean;
}

/** Where invites outlive the process (every change is written through; read once at start). */
export interface InviteStore {
  load(): InviteInfo[];
  put(info: InviteInfo): void;
  delete(id: string): void;
}

export interface InvitesOptions {
  /** The HMAC key (the join tickets' key, at least 32 bytes). */
  secret: Buffer;
  /** Wall clock (Unix ms). */
  clock?: Clock;
  /** Default: none (this process's memory only). */
  store?: InviteStore | null;
}

/** Makes, checks, counts and revokes invites (in memory, written through to the store if any). */
export class Invites {
  private readonly clock: Clock;
  private readonly byId = new Map<string, InviteInfo>();
  private readonly store: InviteStore | null;

  constructor(private readonly options: InvitesOptions) {
    if (options.secret.length < 32) throw new Error('invite secret must be at least 32 bytes');
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? null;
    if (this.store) {
      const stored = this.store.load().sort((a, b) => a.expiresAtMs - b.expiresAtMs);
      for (const info of stored) this.byId.set(info.id, { ...info });
      this.forgetExpired(this.clock.nowMs());
    }
  }

  /** A new invite to `room`, good for `ttlSeconds` (1 s to a week) and `uses` admissions (undefined: any). */
  create(room: string, ttlSeconds: number, uses?: number): { token: string; info: InviteInfo } {
    const nowMs = this.clock.nowMs();
    this.forgetExpired(nowMs);
    if (this.byId.size >= MAX_INVITES) {
      // Still full: the oldest goes (Map order is creation order).
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    const claims: InviteClaims = { room, id: randomBytes(12).toString('base64url'), expiresAtSeconds: Math.ceil(nowMs / 1000 + ttlSeconds) };
    const info: InviteInfo = { id: claims.id, room, expiresAtMs: claims.expiresAtSeconds * 1000, uses: uses ?? null, used: 0, revoked: false };
    this.byId.set(info.id, info);
    this.store?.put(info);
    return { token: encodeInvite(this.options.secret, claims), info: { ...info } };
  }

  /** Checks `invite` for `room` without using it. */
  check(invite: string, room: string): InviteCheck {
    const check = decodeInvite(this.options.secret, invite, room, this.clock.nowMs());
    if (!check.ok) return check;
    const info = this.byId.get(check.claims.id);
    if (!info || info.room !== room) return { ok: false, reason: 'unknown' };
    if (info.revoked) return { ok: false, reason: 'revoked' };
    if (info.uses !== null && info.used >= info.uses) return { ok: false, reason: 'used-up' };
    return check;
  }

  /**
   * Counts one admission with the invite `id`, right after `check` and before anything awaits, so
   * requests in flight together cannot all use its last use; `giveBack` if the admission fails.
   */
  use(id: string): void {
    const info = this.byId.get(id);
    if (!info) return;
    info.used++;
    this.store?.put(info);
  }

  /** An admission counted by `use` did not happen. */
  giveBack(id: string): void {
    const info = this.byId.get(id);
    if (!info || info.used === 0) return;
    info.used--;
    this.store?.put(info);
  }

  /** Revokes invite `id` of `room`; false when there is no such invite. */
  revoke(room: string, id: string): boolean {
    const info = this.byId.get(id);
    if (!info || info.room !== room) return false;
    info.revoked = true;
    this.store?.put(info);
    return true;
  }

  /** The unexpired invites of `room`, revoked ones included, oldest first. */
  list(room: string): InviteInfo[] {
    this.forgetExpired(this.clock.nowMs());
    return [...this.byId.values()].filter((i) => i.room === room).map((i) => ({ ...i }));
  }

  private forgetExpired(nowMs: number): void {
    for (const [id, info] of this.byId) if (info.expiresAtMs <= nowMs) this.forget(id);
  }

  private forget(id: string): void {
    this.byId.delete(id);
    this.store?.delete(id);
  }
}
