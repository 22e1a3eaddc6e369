/**
 * Issue 17: announcements on a manual clock. Played to the end: `ended` completed, heard at the clip's
 * level meanwhile; stopped early (its caller left, the room closed): `ended` not completed, once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toneDbfs } from '../../src/audio/analysis.js';
import { MULAW_DECODE } from '../../src/audio/mulaw.js';
import { Conference } from '../../src/conference/conference.js';
import type { OutboundFrame } from '../../src/conference/outboundFrame.js';
import type { ParticipantTransport } from '../../src/conference/participant.js';
import { type Announcement, Announcements } from '../../src/library/announcements.js';
import { tone } from '../helpers/audio.js';

class Ear implements ParticipantTransport {
  heard: number[] = [];
  sendFrame(frame: OutboundFrame): void {
    for (const b of frame.mulaw) this.heard.push(MULAW_DECODE[b]!);
  }
  end(): void {}
  /** Level of `hz` in ticks `from` to `to` (20 ms each) of what was heard (dBFS). */
  level(hz: number, from: number, to: number): number {
    return toneDbfs(this.heard, hz, 8000, from * 160, to * 160);
  }
}

function setup() {
  const conference = new Conference({ echoWhenAlone: false });
  const announcements = new Announcements(conference);
  const ended: Array<[string, boolean]> = [];
  announcements.on('ended', (a, completed) => ended.push([a.id, completed]));
  const a = new Ear();
  const b = new Ear();
  conference.join('1', 'CAa', a);
  conference.join('1', 'CAb', b);
  let nowMs = 0;
  const ticks = (n: number) => {
    for (let i = 0; i < n; i++) conference.tick((nowMs += 20));
  };
  return { conference, announcements, ended, a, b, ticks };
}

test('played to its end: heard at its level for its length, then reported once as completed', () => {
  const { conference, announcements, ended, a, b, ticks } = setup();
  const clip = tone(800, -10, 400); // 20 frames
  const played: Announcement = announcements.play(conference.room('1')!, 'beep', clip, null);
  assert.equal(played.durationMs, 400);
  assert.deepEqual(announcements.list('1'), [played]);
  ticks(30);
  // Through mu-law the level is within 0.1 dB of the clip's (-13.01 dBFS for a -10 dBFS peak sine).
  for (const ear of [a, b]) assert.ok(Math.abs(ear.level(800, 2, 18) - -13.01) < 0.1, `heard at ${ear.level(800, 2, 18).toFixed(2)} dBFS`);
  assert.ok(a.level(800, 22, 30) < -90, 'then nothing');
  assert.deepEqual(ended, [[played.id, true]]);
  assert.deepEqual(announcements.list('1'), []);
});

test('its caller leaves first: stopped, reported not completed; the room closing ends the rest', () => {
  const { conference, announcements, ended, b, ticks } = setup();
  const forA = announcements.play(conference.room('1')!, 'long', tone(800, -10, 2000), 'CAa');
  const forAll = announcements.play(conference.room('1')!, 'long', tone(600, -10, 2000), null);
  ticks(10);
  assert.ok(b.level(800, 2, 10) < -90, 'b never hears the one for a');
  conference.leave(conference.participant('CAa')!, 'hangup');
  assert.deepEqual(ended, [[forA.id, false]]);
  assert.equal(conference.room('1')!.activeCues, 1, "a's cue was stopped");
  conference.closeRoom('1', 'room-closed');
  assert.deepEqual(ended, [
    [forA.id, false],
    [forAll.id, false],
  ]);
});
