/** Room records for the room store and admission tests, and the contract every room directory keeps. */
import assert from 'node:assert/strict';
import type { RoomDirectory, RoomRecord } from '../../src/rooms/directory.js';

/** A room record with everything unset, as the administrator would create it with only an id. */
export const record = (id: string, over: Partial<RoomRecord> = {}): RoomRecord => ({
  id,
  label: null,
  pinHash: null,
  maxParticipants: null,
  locked: false,
  backgroundGate: null,
  noiseSuppression: null,
  moderatorPinHash: null,
  waitForModerator: false,
  endWhenModeratorLeaves: false,
  startMuted: false,
  waitMusic: null,
  holdMusic: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

/** The behaviour every directory adapter must have. */
export async function contract(directory: RoomDirectory) {
  assert.equal(await directory.create(record('20', { label: 'b' })), 'created');
  assert.equal(await directory.create(record('10', { pinHash: 'scrypt$h', maxParticipants: 5 })), 'created');
  assert.equal(await directory.create(record('10')), 'exists');
  assert.equal(await directory.count(), 2);
  assert.deepEqual(
    (await directory.list()).map((r) => r.id),
    ['10', '20'],
  );
  assert.deepEqual(await directory.get('10'), record('10', { pinHash: 'scrypt$h', maxParticipants: 5 }));
  assert.equal(await directory.get('30'), null);
  const updated = await directory.update('10', { locked: true, pinHash: null, label: undefined }, '2026-02-02T00:00:00.000Z');
  assert.deepEqual(updated, record('10', { locked: true, pinHash: null, maxParticipants: 5, updatedAt: '2026-02-02T00:00:00.000Z' }));
  assert.deepEqual(await directory.get('10'), updated);
  assert.equal(await directory.update('30', { locked: true }, 'x'), null);
  // Issue 14: the sound settings; null puts one back to the server's default.
  const music = await directory.update('10', { backgroundGate: false, noiseSuppression: true }, '2026-02-02T00:00:00.000Z');
  assert.deepEqual(music, { ...updated, backgroundGate: false, noiseSuppression: true });
  assert.deepEqual(await directory.get('10'), music);
  assert.deepEqual(await directory.update('10', { backgroundGate: null, noiseSuppression: null }, '2026-02-02T00:00:00.000Z'), updated);
  // Issue 17: moderation settings round-trip, and a moderator PIN hash can be removed again.
  const moderated = await directory.update(
    '10',
    { moderatorPinHash: 'scrypt$m', waitForModerator: true, endWhenModeratorLeaves: true, startMuted: true },
    '2026-02-02T00:00:00.000Z',
  );
  assert.deepEqual(moderated, { ...updated, moderatorPinHash: 'scrypt$m', waitForModerator: true, endWhenModeratorLeaves: true, startMuted: true });
  assert.deepEqual(await directory.get('10'), moderated);
  assert.deepEqual(
    await directory.update(
      '10',
      { moderatorPinHash: null, waitForModerator: false, endWhenModeratorLeaves: false, startMuted: false },
      '2026-02-02T00:00:00.000Z',
    ),
    updated,
  );
  // Issue 17: the room's music, audio library names; null: the server's default.
  const withMusic = await directory.update('10', { waitMusic: 'wait', holdMusic: 'jazz-1' }, '2026-02-02T00:00:00.000Z');
  assert.deepEqual(withMusic, { ...updated, waitMusic: 'wait', holdMusic: 'jazz-1' });
  assert.deepEqual(await directory.get('10'), withMusic);
  assert.deepEqual(await directory.update('10', { waitMusic: null }, '2026-02-02T00:00:00.000Z'), { ...updated, holdMusic: 'jazz-1' });
  assert.deepEqual(await directory.update('10', { holdMusic: null }, '2026-02-02T00:00:00.000Z'), updated);
  assert.equal(await directory.delete('20'), true);
  assert.equal(await directory.delete('20'), false);
  assert.equal(await directory.count(), 1);
}
