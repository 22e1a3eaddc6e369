import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Participant } from '../../src/conference/participant.js';
import type { Room } from '../../src/conference/room.js';
import {
  compareRoomIds,
  liveParticipantView,
  maskPhoneNumber,
  participantView,
  participantsInSeatOrder,
  sortRooms,
  type ViewSources,
} from '../../src/http/views.js';

describe('room order', () => {
  test('room numbers sort as numbers, as a caller reads them (9, 10, 100), not as text (10, 100, 9)', () => {
    const rooms = ['100', '9', '8100', '10', '0010', '1'].map((id) => ({ id }));
    assert.deepEqual(
      sortRooms(rooms).map((r) => r.id),
      ['1', '9', '0010', '10', '100', '8100'],
    );
  });

  test('the order is total and antisymmetric, also for ids that are not numbers', () => {
    const ids = ['7', '07', 'abc', '10', 'a1', ''];
    for (const a of ids) {
      assert.equal(compareRoomIds(a, a), 0, a);
      for (const b of ids) if (a !== b) assert.equal(Math.sign(compareRoomIds(a, b)), -Math.sign(compareRoomIds(b, a)), `${a} vs ${b}`);
    }
    assert.ok(compareRoomIds('10', 'abc') < 0);
  });
});

describe('caller views', () => {
  test('numbers are masked to country prefix and last four digits; a /join browser says so', () => {
    assert.equal(maskPhoneNumber('+12025550100'), '+1******0100');
    assert.equal(maskPhoneNumber('+447700900123'), '+4*******0123');
    assert.equal(maskPhoneNumber('browser'), 'browser');
    assert.equal(maskPhoneNumber('program'), 'program');
    assert.equal(maskPhoneNumber('client:alice'), '************');
    assert.equal(maskPhoneNumber(undefined), null);
  });

  const fake = (callSid: string, seat: number | undefined, joinedAtMs: number) =>
    ({
      callSid,
      info: { seat, from: '+12025550100' },
      muted: seat === 2,
      hardMuted: false,
      onHold: false,
      coaching: null,
      listenVolumeDb: -6,
      joinedAtMs,
      talk: { state: { levelDbfs: -123.4 } },
      input: { stats: { depth: 3, jitterMs: 12.5 } },
    }) as unknown as Participant;
  const nowMs = 50_000;
  const sources = {
    clock: { nowMs: () => nowMs },
    speech: { isTalking: (callSid: string) => callSid === 'CA2' },
  } as unknown as ViewSources;

  test('the admin view, and the dashboard view as the same fields plus its meters', () => {
    const p = fake('CA2', 2, nowMs - 61_400);
    const view = participantView(sources, p);
    assert.deepEqual(
      { ...view, joinedAt: undefined },
      {
        seat: 2,
        callSid: 'CA2',
        from: '+1******0100',
        label: null,
        moderator: false,
        program: null,
        muted: true,
        mutedByModerator: false,
        hold: false,
        coaching: false,
        callSidToCoach: null,
        talking: true,
        listenVolumeDb: -6,
        joinedAt: undefined,
      },
    );
    assert.ok(Math.abs(Date.parse(view.joinedAt) - (Date.now() - 61_400)) < 5_000, view.joinedAt);
    const live = liveParticipantView(sources, p);
    assert.deepEqual(
      { ...live, joinedAt: undefined },
      { ...view, joinedAt: undefined, joinedForSeconds: 61, levelDbfs: -96, jitterDepthFrames: 3, jitterMs: 12.5 },
    );
  });

  test('callers in seat order, seatless first; no room, nobody', () => {
    const room = { participants: () => [fake('CA3', 3, 0), fake('CAx', undefined, 0), fake('CA1', 1, 0)] } as unknown as Room;
    assert.deepEqual(
      participantsInSeatOrder(room, (p) => participantView(sources, p)).map((v) => v.callSid),
      ['CAx', 'CA1', 'CA3'],
    );
    assert.deepEqual(
      participantsInSeatOrder(undefined, (p) => participantView(sources, p)),
      [],
    );
  });
});
