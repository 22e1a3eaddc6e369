/**
 * The conference core alone (no HTTP, no WebSocket, no timers started): the one `endRoom`, used by
 * the admin API and by the cluster's fence, closes the room's streams and frees its seats.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCore, type Core } from '../../src/app/core.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { HealthMonitor } from '../../src/observability/health.js';
import { ManualClock } from '../../src/timing/clock.js';
import { Caller } from '../helpers/mixer.js';
import { TEST_ENV_DEFAULTS } from '../helpers/server.js';

describe('createCore', () => {
  let core: Core;
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock();
    core = createCore(parseConfig({ ...TEST_ENV_DEFAULTS }), { log: silentLogger(), clock, health: new HealthMonitor() });
  });
  afterEach(() => core.directory.close());

  const seat = (room: string, callSid: string) => {
    core.seats.reserve(room, callSid, 10_000);
    const caller = new Caller(callSid);
    caller.participant = core.conference.join(room, callSid, caller, clock.nowMs());
    return caller;
  };

  test('one process: local ownership, no cluster, the SQLite directory', () => {
    assert.equal(core.cluster, null);
    assert.equal(core.ownership.clustered, false);
    assert.equal(core.statusCallbacks, null);
  });

  test("endRoom closes every stream with the reason and frees the room's seats, reserved ones too", () => {
    const a = seat('4711', 'CAa');
    const b = seat('4711', 'CAb');
    core.seats.reserve('4711', 'CAc', 10_000); // admitted, stream not started yet
    const other = seat('42', 'CAd');
    assert.equal(core.endRoom('4711', 'room-closed'), true);
    assert.equal(a.ended, 'room-closed');
    assert.equal(b.ended, 'room-closed');
    assert.equal(core.seats.isOpen('4711'), false);
    assert.equal(core.conference.room('4711'), undefined);
    assert.equal(other.ended, null, 'the room beside it goes on');
    assert.equal(core.endRoom('4711', 'room-closed'), false, 'nothing left to end');
  });

  test('the fence ends a room through the same endRoom, as moved', () => {
    const a = seat('4711', 'CAa');
    core.ownership.emit('fenced', '4711', 3, 'lease lost');
    assert.equal(a.ended, 'moved');
    assert.equal(core.seats.isOpen('4711'), false);
  });

  test('a caller leaving frees their seat (admission hears every leave)', () => {
    const a = seat('4711', 'CAa');
    seat('4711', 'CAb');
    core.conference.leave(a.participant, 'hangup');
    assert.equal(core.seats.total(), 1);
  });
});
