/**
 * The baseline: a conference server written the straightforward way, for the benchmark's ratios.
 * It speaks the same protocol and answers the same webhook as the real server, and does what a
 * first version typically does (the twilio-labs call-gpt style):
 *
 * - express + express-ws with default options;
 * - every message through a full `JSON.parse`, fields read without a schema;
 * - alawmulaw's `mulaw.decode`/`encode`, each allocating a new typed array per frame;
 * - a separate mix for every listener (the sum of everyone else's frame, recomputed per listener:
 *   O(room size^2) per tick), a separate encode, base64 and `JSON.stringify` per listener;
 * - a `setInterval(20)` clock (no absolute deadlines: it drifts and never catches up).
 *
 * It is not meant to be good: it is the reference every optimisation is measured against. It keeps
 * the same small input buffer (5 frames, oldest dropped) so delays are comparable.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import expressWs from 'express-ws';
import alawmulaw from 'alawmulaw';
import twilio from 'twilio';
import type { WebSocket } from 'ws';
import { DurationHistogram } from '../../../src/timing/histogram.js';

interface Member {
  ws: WebSocket;
  streamSid: string;
  callSid: string;
  queue: Int16Array[];
}

/** The same tick figures the real server reports, measured the same way where it can be. */
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

export function createBaselineServer(): BaselineServer {
  const app = express();
  const server = http.createServer(app);
  const wsApp = expressWs(app, server);
  const rooms = new Map<string, Map<string, Member>>();

  app.use(express.urlencoded({ extended: false }));
  app.post('/voice', (req, res) => {
    const room = String(req.query.room ?? '');
    const vr = new twilio.twiml.VoiceResponse();
    vr.connect().stream({ url: `ws://${req.headers.host}/media` }).parameter({ name: 'room', value: room });
    vr.say('You have left the conference. Goodbye.');
    res.type('text/xml').send(vr.toString());
  });

  wsApp.app.ws('/media', (ws) => {
    let member: Member | null = null;
    let roomId = '';
    ws.on('message', (msg) => {
      const data = JSON.parse(String(msg));
      if (data.event === 'start') {
        roomId = data.start.customParameters.room;
        member = { ws, streamSid: data.streamSid, callSid: data.start.callSid, queue: [] };
        if (!rooms.has(roomId)) rooms.set(roomId, new Map());
        rooms.get(roomId)!.set(member.callSid, member);
      } else if (data.event === 'media' && member) {
        const pcm = alawmulaw.mulaw.decode(Buffer.from(data.media.payload, 'base64'));
        member.queue.push(pcm);
        if (member.queue.length > 5) member.queue.shift();
      } else if (data.event === 'stop') {
        ws.close();
      }
    });
    ws.on('close', () => {
      if (!member) return;
      const room = rooms.get(roomId);
      room?.delete(member.callSid);
      if (room && room.size === 0) rooms.delete(roomId);
    });
  });

  const tick = () => {
    for (const room of rooms.values()) {
      const members = [...room.values()];
      const frames = members.map((m) => m.queue.shift() ?? null);
      for (let l = 0; l < members.length; l++) {
        const mix = new Int16Array(160);
        for (let i = 0; i < 160; i++) {
          let sample = 0;
          for (let o = 0; o < members.length; o++) {
            const frame = frames[o];
            if (o !== l && frame) sample += frame[i]!;
          }
          mix[i] = Math.max(-32768, Math.min(32767, sample));
        }
        const payload = Buffer.from(alawmulaw.mulaw.encode(mix)).toString('base64');
        members[l]!.ws.send(JSON.stringify({ event: 'media', streamSid: members[l]!.streamSid, media: { payload } }));
      }
    }
  };

  // Measuring the clock (not part of the approach): each tick's duration and how late it ran
  // against the previous one; skipped = the ticks an absolute 20 ms clock would have run, minus these.
  const tickMs = new DurationHistogram();
  const latenessMs = new DurationHistogram();
  let ticks = 0;
  let lateTicks = 0;
  let since = performance.now();
  let previous = 0;
  let interval: NodeJS.Timeout | null = null;

  return {
    async listen(port, host) {
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      interval = setInterval(() => {
        const start = performance.now();
        if (previous > 0) {
          const late = Math.max(0, start - previous - 20);
          latenessMs.record(late);
          if (late >= 10) lateTicks++;
        }
        previous = start;
        ticks++;
        tick();
        tickMs.record(performance.now() - start);
      }, 20);
      return { port: (server.address() as AddressInfo).port };
    },
    stats() {
      const expected = Math.floor((performance.now() - since) / 20);
      const pick = (h: DurationHistogram) => {
        const s = h.summary();
        return { p50: s.p50, p99: s.p99, max: s.max };
      };
      return { ticks, lateTicks, skippedTicks: Math.max(0, expected - ticks), tickMs: pick(tickMs), latenessMs: pick(latenessMs) };
    },
    resetStats() {
      tickMs.reset();
      latenessMs.reset();
      ticks = 0;
      lateTicks = 0;
      since = performance.now();
    },
    async close() {
      if (interval) clearInterval(interval);
      for (const client of wsApp.getWss().clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
