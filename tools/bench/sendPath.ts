/**
 * What one outbound media message costs the server to send, user + kernel CPU: ws's own send()
 * against the media endpoint's single write of a prebuilt frame (src/media/endpoint.ts,
 * mediaSocketOf). Server side in this process, exactly as the server has it: express-ws (its ws)
 * on a real HTTP server, permessage-deflate off; 300 clients in a child process that only read.
 * The two ways alternate in blocks of rounds so that a disturbance hits both alike.
 *
 * Run as a module: measureSendPath(). Run as a process (forked by it): the reading clients.
 */
import http from 'node:http';
import express from 'express';
import expressWs from 'express-ws';
import WebSocket from 'ws';
import { mediaSocketOf } from '../../src/media/endpoint.js';
import type { MediaSocket } from '../../src/media/session.js';
import { Child, emit, forkTs, serve } from './ipc.js';

export interface SendPathCost {
  sockets: number;
  messageBytes: number;
  /** ws.send(text): a Buffer from the text, a header Buffer, writev of the two. */
  wsSendUs: number;
  /** One write of the whole frame as a latin1 string (what the server does). */
  frameWriteUs: number;
}

const SOCKETS = 300;
const BLOCKS = 20;
const ROUNDS_PER_BLOCK = 10;

export async function measureSendPath(): Promise<SendPathCost> {
  const app = express();
  const server = http.createServer(app);
  const wsApp = expressWs(app, server, { wsOptions: { perMessageDeflate: false } });
  const sockets: Array<{ ws: { send(text: string): void; close(): void }; media: MediaSocket }> = [];
  wsApp.app.ws('/media', (ws) => {
    sockets.push({ ws, media: mediaSocketOf(ws) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const clients = new Child('send path clients', forkTs('./sendPath.ts', ['clients', String(port), String(SOCKETS)]));
  try {
    await clients.waitFor('ready', 30_000);
    if (sockets.length !== SOCKETS) throw new Error(`${sockets.length} of ${SOCKETS} sockets open`);
    const text = `{"event":"media","streamSid":"MZ${'0'.repeat(32)}","media":{"payload":"${Buffer.alloc(160, 0xff).toString('base64')}"}}`;
    const round = (fast: boolean) => {
      for (const s of sockets) {
        if (fast) s.media.send(text);
        else s.ws.send(text);
      }
      return new Promise((resolve) => setTimeout(resolve, 2));
    };
    const block = async (fast: boolean) => {
      const before = process.cpuUsage();
      for (let r = 0; r < ROUNDS_PER_BLOCK; r++) await round(fast);
      const c = process.cpuUsage(before);
      return c.user + c.system;
    };
    // Warm-up, both ways.
    for (let b = 0; b < 4; b++) await block(b % 2 === 0);
    let wsMicros = 0;
    let frameMicros = 0;
    for (let b = 0; b < BLOCKS; b++) {
      // ABBA order: neither way always goes first.
      const wsFirst = b % 2 === 0;
      if (wsFirst) wsMicros += await block(false);
      frameMicros += await block(true);
      if (!wsFirst) wsMicros += await block(false);
    }
    const n = BLOCKS * ROUNDS_PER_BLOCK * SOCKETS;
    // Every message sent (warm-up and measured blocks) must arrive; the last ones may still be on
    // their way when the count is asked for over IPC.
    const due = (4 + 2 * BLOCKS) * ROUNDS_PER_BLOCK * SOCKETS;
    let received = 0;
    for (const deadline = performance.now() + 10_000; received < due && performance.now() < deadline; ) {
      received = await clients.request<number>('received');
      if (received < due) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (received < due) throw new Error(`clients received ${received} of ${due} messages`);
    const r2 = (v: number) => Math.round(v * 100) / 100;
    // The 2 ms timers between rounds cost the same both ways (small next to 300 sends).
    return { sockets: SOCKETS, messageBytes: Buffer.byteLength(text) + 4, wsSendUs: r2(wsMicros / n), frameWriteUs: r2(frameMicros / n) };
  } finally {
    for (const s of sockets) s.ws.close();
    await clients.kill();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

if (process.argv[2] === 'clients') {
  const port = Number(process.argv[3]);
  const count = Number(process.argv[4]);
  let received = 0;
  const open: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/media`, { perMessageDeflate: false });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // Every message must arrive as the text the server sent: a broken frame would not.
      if (!isBinary && data.length > 100) received++;
    });
    open.push(
      new Promise((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
    );
  }
  void Promise.all(open).then(() => {
    serve({ received: () => received });
    // Let the server's connection handlers run for the last sockets.
    setTimeout(() => emit('ready'), 200);
  });
}
