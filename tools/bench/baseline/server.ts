/**
 * The baseline (issue 13): the strongest simple peer, what a competent engineer writes in an
 * afternoon for a Twilio conference mixer. Every ratio the benchmark prints is against it, so it
 * must be honest: everything cheap that needs no design is in, nothing of the real server's
 * machinery (admission, tickets, jitter buffers, talk detection, limiter, overload guard) is.
 *
 * - HTTP: express, POST /voice?room=N answers <Connect><Stream url="ws://HOST/media"> with the room
 *   as a <Parameter> (twilio's VoiceResponse). No admission, no limits, no tickets: every call is
 *   admitted, at once.
 * - WebSocket: express-ws on ws 8 (package.json points express-ws at the project's ws), default
 *   options. Every text message through `JSON.parse`, fields read without a schema.
 * - Codec: G.711 mu-law by lookup tables built once at start-up from alawmulaw's own
 *   `decodeSample` / `encodeSample` (256 and 65,536 entries): what a competent engineer writes as
 *   soon as a profile shows the per-sample function, and what alawmulaw's allocating
 *   `decode`/`encode` would cost on top. Nothing is allocated per sample or per frame but the base64
 *   string and the JSON string `ws.send` needs.
 * - Input: per caller a 2-frame FIFO of decoded PCM (a ring of two Int16Arrays; a third frame before
 *   a tick drops the oldest): one frame of jitter absorbed, delay bounded.
 * - Clock: drift-free, absolute 20 ms deadlines (t0 + n * 20 ms) with setTimeout; up to 3 late ticks
 *   are caught up back to back, beyond that the clock resynchronises (the dropped deadlines counted
 *   as skipped ticks).
 * - Mixing, per room per tick: everyone's frame summed once into an Int32Array, then each listener
 *   gets clip(sum - own), encoded, base64, `JSON.stringify`, `ws.send`: O(room size), a decode per
 *   caller and an encode per listener. No limiter (hard clipping).
 *
 * Why it is the strongest simple peer: it has no drift (50 frames a second), no O(room size^2) mix,
 * no per-frame allocation of PCM, and nothing between a message and the mix but `JSON.parse` and a
 * table decode. What it lacks takes more than an afternoon: it is ~250 lines a reviewer can read.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import expressWs from 'express-ws';
import alawmulaw from 'alawmulaw';
import twilio from 'twilio';
import type { WebSocket } from 'ws';
import { DurationHistogram } from '../../../src/timing/histogram.js';

const FRAME_MS = 20;
const SAMPLES_PER_FRAME = 160;
/** Ticks more than this late are not caught up: the clock resynchronises. */
const MAX_CATCH_UP_TICKS = 3;
/** A tick that starts this late (ms) or more counts as late (as for the real server). */
const LATE_TICK_MS = 10;

/** mu-law code -> linear sample, and linear sample (as `sample & 0xffff`) -> mu-law code. */
const DECODE = new Int16Array(256);
for (let code = 0; code < 256; code++) DECODE[code] = alawmulaw.mulaw.decodeSample(code);
const ENCODE = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) ENCODE[i] = alawmulaw.mulaw.encodeSample((i << 16) >> 16) & 0xff;

interface Member {
  ws: WebSocket;
  streamSid: string;
  callSid: string;
  /** The 2-frame FIFO: `count` frames from `head`. */
  fifo: [Int16Array, Int16Array];
  head: number;
  count: number;
  /** This tick's frame (null: none arrived in time). */
  current: Int16Array | null;
}

interface Room {
  members: Member[];
}

/** The same tick figures the real server reports, measured the same way. */
export interface BaselineTickStats {
  ticks: number;
  lateTicks: number;
  skippedTicks: number;
  tickMs: { p50: number; p99: number; max: number };
  latenessMs: { p50: number; p99: number; max: number };
}

export interface BaselineServer {
  listen(port: number, host: string): Promise<{ port: number }>;
  stats(): BaselineTickStats;
  resetStats(): void;
  close(): Promise<void>;
}

/** Decodes a base64 mu-law payload into the caller's FIFO (the oldest frame dropped when full). */
function pushFrame(m: Member, payload: string): void {
  const bytes = Buffer.from(payload, 'base64');
  let slot: Int16Array;
  if (m.count < 2) {
    slot = m.fifo[(m.head + m.count) & 1]!;
    m.count++;
  } else {
    slot = m.fifo[m.head]!;
    m.head ^= 1;
  }
  const n = Math.min(bytes.length, SAMPLES_PER_FRAME);
  for (let i = 0; i < n; i++) slot[i] = DECODE[bytes[i]!]!;
  if (n < SAMPLES_PER_FRAME) slot.fill(0, n);
}

function popFrame(m: Member): Int16Array | null {
  if (m.count === 0) return null;
  const frame = m.fifo[m.head]!;
  m.head ^= 1;
  m.count--;
  return frame;
}

export function createBaselineServer(): BaselineServer {
  const app = express();
  const server = http.createServer(app);
  const wsApp = expressWs(app, server);
  const rooms = new Map<string, Room>();

  app.use(express.urlencoded({ extended: false }));
  app.post('/voice', (req, res) => {
    const room = String(req.query['room'] ?? '');
    const vr = new twilio.twiml.VoiceResponse();
    vr.connect()
      .stream({ url: `ws://${req.headers.host}/media` })
      .parameter({ name: 'room', value: room });
    vr.say('You have left the conference. Goodbye.');
    res.type('text/xml').send(vr.toString());
  });

  wsApp.app.ws('/media', (ws) => {
    let member: Member | null = null;
    let roomId = '';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const msg = JSON.parse(data.toString());
      if (msg.event === 'media') {
        if (member) pushFrame(member, msg.media.payload);
      } else if (msg.event === 'start') {
        roomId = String(msg.start.customParameters?.room ?? '');
        member = {
          ws,
          streamSid: msg.streamSid,
          callSid: msg.start.callSid,
          fifo: [new Int16Array(SAMPLES_PER_FRAME), new Int16Array(SAMPLES_PER_FRAME)],
          head: 0,
          count: 0,
          current: null,
        };
        let room = rooms.get(roomId);
        if (!room) rooms.set(roomId, (room = { members: [] }));
        room.members.push(member);
      } else if (msg.event === 'stop') {
        ws.close();
      }
    });
    ws.on('close', () => {
      if (!member) return;
      const room = rooms.get(roomId);
      if (!room) return;
      const i = room.members.indexOf(member);
      if (i >= 0) room.members.splice(i, 1);
      if (room.members.length === 0) rooms.delete(roomId);
      member = null;
    });
  });

  // One tick's buffers, reused: the room's sum, and one listener's mu-law frame.
  const sum = new Int32Array(SAMPLES_PER_FRAME);
  const out = Buffer.alloc(SAMPLES_PER_FRAME);

  const mixRoom = (room: Room) => {
    const members = room.members;
    sum.fill(0);
    for (const m of members) {
      const frame = (m.current = popFrame(m));
      if (frame) for (let i = 0; i < SAMPLES_PER_FRAME; i++) sum[i]! += frame[i]!;
    }
    for (const m of members) {
      const own = m.current;
      for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
        let v = own ? sum[i]! - own[i]! : sum[i]!;
        if (v > 32767) v = 32767;
        else if (v < -32768) v = -32768;
        out[i] = ENCODE[v & 0xffff]!;
      }
      if (m.ws.readyState !== m.ws.OPEN) continue;
      m.ws.send(JSON.stringify({ event: 'media', streamSid: m.streamSid, media: { payload: out.toString('base64') } }));
    }
  };

  // The clock, and measuring it (the same figures the real server's Ticker reports).
  const tickMs = new DurationHistogram();
  const latenessMs = new DurationHistogram();
  let ticks = 0;
  let lateTicks = 0;
  let skippedTicks = 0;
  let deadline = 0;
  let timer: NodeJS.Timeout | null = null;

  const loop = () => {
    let now = performance.now();
    const behind = Math.floor((now - deadline) / FRAME_MS);
    if (behind > MAX_CATCH_UP_TICKS) {
      skippedTicks += behind;
      deadline += behind * FRAME_MS;
    }
    while (deadline <= now) {
      const late = now - deadline;
      latenessMs.record(late);
      if (late >= LATE_TICK_MS) lateTicks++;
      ticks++;
      for (const room of rooms.values()) mixRoom(room);
      const end = performance.now();
      tickMs.record(end - now);
      deadline += FRAME_MS;
      now = end;
    }
    timer = setTimeout(loop, deadline - now);
  };

  return {
    async listen(port, host) {
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      deadline = performance.now() + FRAME_MS;
      timer = setTimeout(loop, FRAME_MS);
      return { port: (server.address() as AddressInfo).port };
    },
    stats() {
      const pick = (h: DurationHistogram) => {
        const s = h.summary();
        return { p50: s.p50, p99: s.p99, max: s.max };
      };
      return { ticks, lateTicks, skippedTicks, tickMs: pick(tickMs), latenessMs: pick(latenessMs) };
    },
    resetStats() {
      tickMs.reset();
      latenessMs.reset();
      ticks = 0;
      lateTicks = 0;
      skippedTicks = 0;
    },
    async close() {
      if (timer) clearTimeout(timer);
      timer = null;
      for (const client of wsApp.getWss().clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
