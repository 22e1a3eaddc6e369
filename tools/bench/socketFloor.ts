/**
 * The floor under "CPU per message": what one loopback socket write and one read of a media-sized
 * message (330 bytes) cost on this machine, user + kernel, with writer and reader in separate
 * processes and many sockets (as a server with many callers has). A server that reads each
 * inbound message and writes each outbound one with its own system call cannot go below
 * (write + read) / 2 per message, whatever its JavaScript does.
 *
 * Run as a module: measureSocketFloor(). Run as a process (forked by it): the reading side.
 */
import net from 'node:net';
import { Child, emit, forkTs, serve } from './ipc.js';

export interface SocketFloor {
  sockets: number;
  messageBytes: number;
  writeUs: number;
  readUs: number;
  /** (write + read) / 2: the least CPU per message in+out with one system call per message. */
  perMessageUs: number;
}

const SOCKETS = 300;
const ROUNDS = 200;
const BYTES = 330;

export async function measureSocketFloor(): Promise<SocketFloor> {
  const reader = new Child('socket floor reader', forkTs('./socketFloor.ts', ['reader']));
  const sockets: net.Socket[] = [];
  try {
    const { port } = await reader.waitFor<{ port: number }>('ready', 30_000);
    for (let i = 0; i < SOCKETS; i++) {
      sockets.push(
        await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
          s.once('error', reject);
        }),
      );
    }
    const message = Buffer.alloc(BYTES, 0x61);
    // One round as a warm-up, then ROUNDS rounds of one write per socket, 2 ms apart (each read
    // then finds one message, as in a real-time stream).
    const round = () => {
      for (const s of sockets) s.write(message);
      return new Promise((resolve) => setTimeout(resolve, 2));
    };
    for (let r = 0; r < 20; r++) await round();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const readerBefore = await reader.request<{ cpuUs: number; bytes: number }>('cpu');
    const before = process.cpuUsage();
    for (let r = 0; r < ROUNDS; r++) await round();
    const mine = process.cpuUsage(before);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const readerAfter = await reader.request<{ cpuUs: number; bytes: number }>('cpu');
    const n = SOCKETS * ROUNDS;
    // The writer's CPU also pays for its 2 ms timers; small next to 300 writes per round.
    const writeUs = (mine.user + mine.system) / n;
    const readUs = (readerAfter.cpuUs - readerBefore.cpuUs) / n;
    const r2 = (v: number) => Math.round(v * 100) / 100;
    return { sockets: SOCKETS, messageBytes: BYTES, writeUs: r2(writeUs), readUs: r2(readUs), perMessageUs: r2((writeUs + readUs) / 2) };
  } finally {
    for (const s of sockets) s.destroy();
    await reader.kill();
  }
}

if (process.argv[2] === 'reader') {
  let bytes = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      bytes += chunk.length;
    });
  });
  server.listen(0, '127.0.0.1', () => {
    serve({
      cpu: () => {
        const c = process.cpuUsage();
        return { cpuUs: c.user + c.system, bytes };
      },
    });
    emit('ready', { port: (server.address() as net.AddressInfo).port });
  });
}
