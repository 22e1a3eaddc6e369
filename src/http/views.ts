/**
 * What an administrator sees of rooms and callers, written once: the admin API's JSON
 * (GET /api/rooms, /api/rooms/<id>, ...) and the dashboard's live snapshot (GET /api/live) are built
 * from these views, so both show the same fields the same way, rooms in one order (room number
 * order) and callers in seat order.
 *
 * Read only: nothing here changes a room. Not on the mixer's 20 ms path (an API request, or the
 * dashboard's snapshot four times a second while someone watches).
 */
import { z } from 'zod';
import type { Conference } from '../conference/conference.js';
import type { RoomRecord } from '../rooms/directory.js';
import type { Participant } from '../conference/participant.js';
import type { Room } from '../conference/room.js';
import type { SpeechActivity } from '../events/speech.js';
import type { Admission } from '../rooms/admission.js';
import type { Clock } from '../timing/clock.js';
import { isoTime, named } from './apiContract.js';

/** What the views read. */
export interface ViewSources {
  conference: Conference;
  admission: Admission;
  speech: SpeechActivity;
  /** The conference's clock, to turn join times into wall-clock times. */
  clock: Clock;
}

const DIGITS = /^[0-9]+$/;

/**
 * Room number order: numeric where both ids are numbers (9 before 10 before 100, as a caller reads
 * them), else by the text; ids that differ only in leading zeros by the text, so the order is total.
 */
export function compareRoomIds(a: string, b: string): number {
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const x = a.replace(/^0+(?=.)/, '');
    const y = b.replace(/^0+(?=.)/, '');
    if (x.length !== y.length) return x.length - y.length;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts `rooms` in place in room number order (compareRoomIds) and returns it. */
export function sortRooms<T extends { id: string }>(rooms: T[]): T[] {
  return rooms.sort((a, b) => compareRoomIds(a.id, b.id));
}

/**
 * A caller's number for display: the country prefix and last four digits, the rest as stars
 * (+12025550100 -> +1******0100). A /join browser (no number) shows as `browser`; anything else
 * that is not a phone number shows only its length.
 */
export function maskPhoneNumber(from: string | undefined): string | null {
  if (!from) return null;
  if (from === 'browser' || from === 'program') return from;
  const m = /^(\+?\d)(\d+)(\d{4})$/.exec(from);
  if (m && from.replace('+', '').length >= 7) return m[1]! + '*'.repeat(m[2]!.length) + m[3]!;
  return '*'.repeat(Math.min(from.length, 12));
}

/** roomView's answer: the admin API's contract and the type the function returns. */
export const roomViewSchema = named(
  'RoomView',
  z.object({
    id: z.string(),
    label: z.string().nullable(),
    hasPin: z.boolean(),
    hasModeratorPin: z.boolean(),
    locked: z.boolean(),
    maxParticipants: z.number().int().nullable(),
    seatLimit: z.number().int(),
    administered: z.boolean(),
    backgroundGate: z.boolean().nullable(),
    noiseSuppression: z.boolean().nullable(),
    soundInForce: z.object({ backgroundGate: z.boolean(), noiseSuppression: z.boolean() }).nullable(),
    waitForModerator: z.boolean(),
    endWhenModeratorLeaves: z.boolean(),
    startMuted: z.boolean(),
    waitingForModerator: z.boolean(),
    waitMusic: z.string().nullable(),
    holdMusic: z.string().nullable(),
    participants: z.number().int().min(0),
    createdAt: isoTime.nullable(),
    updatedAt: isoTime.nullable(),
  }),
  'A room: its stored settings (null: the server default; all null/false for a room callers opened) and what is live now.',
);
export type RoomView = z.infer<typeof roomViewSchema>;

/** A room: its administered settings (`record`, null for a room callers opened) and what is live now. */
export function roomView(sources: ViewSources, id: string, record: RoomRecord | null): RoomView {
  const { conference, admission } = sources;
  const live = conference.room(id);
  return {
    id,
    label: record?.label ?? null,
    hasPin: Boolean(record?.pinHash),
    hasModeratorPin: Boolean(record?.moderatorPinHash),
    locked: record?.locked ?? false,
    maxParticipants: record?.maxParticipants ?? null,
    seatLimit: admission.seatLimit(record),
    administered: record !== null,
    // The room's own sound settings (null: the server's default); soundInForce while it is open.
    backgroundGate: record?.backgroundGate ?? null,
    noiseSuppression: record?.noiseSuppression ?? null,
    soundInForce: live ? { ...live.audio } : null,
    // Moderation (issue 17); waitingForModerator while an open room waits for its first moderator.
    waitForModerator: record?.waitForModerator ?? false,
    endWhenModeratorLeaves: record?.endWhenModeratorLeaves ?? false,
    startMuted: record?.startMuted ?? false,
    waitingForModerator: live?.waitingForModerator ?? false,
    // Audio library clips (null: the server's WAIT_MUSIC / HOLD_MUSIC).
    waitMusic: record?.waitMusic ?? null,
    holdMusic: record?.holdMusic ?? null,
    participants: live?.size ?? 0,
    createdAt: record?.createdAt ?? null,
    updatedAt: record?.updatedAt ?? null,
  };
}

/** participantView's answer: the admin API's contract and the type the function returns. */
export const participantViewSchema = named(
  'ParticipantView',
  z.object({
    seat: z.number().int().nullable(),
    callSid: z.string(),
    from: z.string().nullable(),
    label: z.string().nullable(),
    moderator: z.boolean(),
    /** A program admitted with POST /api/rooms/:id/programs; null: a phone or a browser. */
    program: z.object({ role: z.enum(['talker', 'listener']), format: z.enum(['mulaw', 'pcm16-8k', 'pcm16-16k']) }).nullable(),
    muted: z.boolean(),
    mutedByModerator: z.boolean(),
    hold: z.boolean(),
    coaching: z.boolean(),
    callSidToCoach: z.string().nullable(),
    talking: z.boolean(),
    listenVolumeDb: z.number(),
    joinedAt: isoTime,
  }),
  'A caller in a room; `from` is masked (+1******0100).',
);
export type ParticipantView = z.infer<typeof participantViewSchema>;

/** GET /api/rooms/:id: the room and its callers in seat order. */
export const roomDetailSchema = named('RoomDetail', roomViewSchema.extend({ participants: z.array(participantViewSchema) }));

/** A caller in a room, as the admin API shows one. */
export function participantView(sources: ViewSources, p: Participant): ParticipantView {
  const wallOffsetMs = Date.now() - sources.clock.nowMs();
  return {
    seat: p.info.seat ?? null,
    callSid: p.callSid,
    from: maskPhoneNumber(p.info.from),
    label: p.info.label ?? null,
    moderator: p.info.moderator === true,
    // A program admitted with POST /api/rooms/:id/programs (null: a phone or a browser).
    program: p.info.program ? { role: p.info.program.role, format: p.info.program.format } : null,
    muted: p.muted,
    // Muted by a moderator or the API (or startMuted): the caller's *6 cannot undo it.
    mutedByModerator: p.hardMuted,
    hold: p.onHold,
    // As Twilio's Participant: coaching, and whom (only that caller hears this one).
    coaching: p.coaching !== null,
    callSidToCoach: p.coaching,
    talking: sources.speech.isTalking(p.callSid),
    listenVolumeDb: p.listenVolumeDb,
    joinedAt: new Date(Math.round(wallOffsetMs + p.joinedAtMs)).toISOString(),
  };
}

/** liveParticipantView's answer: the live feed's contract (GET /api/live) and the type the function returns. */
export const liveParticipantViewSchema = named(
  'LiveParticipantView',
  participantViewSchema.extend({
    joinedForSeconds: z.number().int().min(0),
    levelDbfs: z.number().min(-96),
    jitterDepthFrames: z.number().int().min(0),
    jitterMs: z.number().min(0),
  }),
  'A caller as the dashboard draws one: the admin view and its meters (time in the call, input level, jitter).',
);
export type LiveParticipantView = z.infer<typeof liveParticipantViewSchema>;

/** participantView and the meters the dashboard draws: time in the call, input level, jitter. */
export function liveParticipantView(sources: ViewSources, p: Participant): LiveParticipantView {
  return {
    ...participantView(sources, p),
    joinedForSeconds: Math.max(0, Math.round((sources.clock.nowMs() - p.joinedAtMs) / 1000)),
    levelDbfs: Math.round(Math.max(-96, p.talk.state.levelDbfs) * 10) / 10,
    jitterDepthFrames: p.input.stats.depth,
    jitterMs: p.input.stats.jitterMs,
  };
}

/** A room's callers through `view`, in seat order (seatless callers first). */
export function participantsInSeatOrder<T extends { seat: number | null }>(room: Room | undefined, view: (p: Participant) => T): T[] {
  return (room?.participants() ?? []).map(view).sort((a, b) => (a.seat ?? 0) - (b.seat ?? 0));
}
