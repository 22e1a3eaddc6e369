/**
 * A minimal WebSocket client (RFC 6455) for the load generator: just what a Twilio media stream
 * needs, and as little work per message as the socket allows, because on a 2-core machine every
 * microsecond the generator spends is taken from the server under test.
 *
 * - Handshake: GET with Sec-WebSocket-Key, checked against Sec-WebSocket-Accept; Twilio's
 *   user-agent, no Origin, no subprotocol, no extensions (so no permessage-deflate).
 * - Sending: one socket write per message. Client frames must be masked; the masking key is
 *   0x00000000 (as ws's `generateMask` option allows), so the payload goes out as is and a media
 *   message is a single latin1 string: frame header + JSON. The server unmasks every frame the same
 *   way whatever the key, so its cost is what a real client causes.
 * - Receiving: reads land in one shared buffer (net's `onread`, no stream, no allocation per
 *   read); frames are parsed in place and each text message is handed over as a byte range of
 *   that buffer, valid only during the call. Ping is answered with pong, close with close.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Reads of all clients land here: handlers run synchronously, partial frames are copied out. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const ZERO_MASK = '\x00\x00\x00\x00';

export interface WsHandlers {
  open(): void;
  /** A text message: bytes [start, end) of `data`, which is only valid during this call. */
  message(data: Buffer, start: number, end: number): void;
  /** The connection ended: the close code the server sent (1006 when there was no close frame). */
  close(code: number): void;
  /** Connecting or the handshake failed (before `open`), or the server broke the protocol. */
  error(error: Error): void;
}

const enum State {
  Handshake,
  Open,
  Closing,
  Closed,
}

export class MiniWebSocket {
  private state = State.Handshake;
  private readonly socket: net.Socket;
  private readonly key = randomBytes(16).toString('base64');
  /** Unparsed bytes: the handshake response so far, or a partial frame. */
  private pending: Buffer | null = null;

  constructor(
    url: string,
    headers: Record<string, string>,
    private readonly handlers: WsHandlers,
  ) {
    const u = new URL(url);
    if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs (loopback benchmark), got ${url}`);
    this.socket = net.connect({
      host: u.hostname,
      port: Number(u.port || 80),
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf as Buffer) },
    });
    this.socket.on('connect', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      this.socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.closed(1006));
  }

  get isOpen(): boolean {
    return this.state === State.Open;
  }

  /** Bytes written but not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Sends a text message that is pure ASCII (the media messages): one write, no Buffer. */
  sendAscii(text: string): void {
    if (this.state !== State.Open) return;
    const n = text.length;
    const header = n < 126 ? String.fromCharCode(0x81, 0x80 | n) : String.fromCharCode(0x81, 0x80 | 126, n >> 8, n & 0xff);
    this.socket.write(header + ZERO_MASK + text, 'latin1');
  }

  /** Sends any text message (UTF-8). */
  send(text: string): void {
    if (this.state !== State.Open) return;
    this.writeFrame(0x1, Buffer.from(text, 'utf8'));
  }

  /** Starts the closing handshake (the server answers with its close frame, then ends the TCP). */
  close(code = 1000): void {
    if (this.state !== State.Open) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.writeFrame(0x8, payload);
    this.state = State.Closing;
    setTimeout(() => this.socket.destroy(), 3000).unref();
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.socket.destroy();
  }

  private writeFrame(opcode: number, payload: Buffer): void {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n, 0, 0, 0, 0]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff, 0, 0, 0, 0]);
    if (n >= 65536) throw new Error('message too long for this client');
    this.socket.write(Buffer.concat([head, payload]));
  }

  private onRead(n: number, buf: Buffer): boolean {
    let data = buf.subarray(0, n);
    if (this.pending) {
      data = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    let i = 0;
    if (this.state === State.Handshake) {
      i = this.handshake(data);
      if (i < 0) return true;
    }
    const len = data.length;
    while (i < len && this.state !== State.Closed) {
      if (len - i < 2) break;
      const b0 = data[i]!;
      const b1 = data[i + 1]!;
      let size = b1 & 0x7f;
      let head = 2;
      if (size === 126) {
        if (len - i < 4) break;
        size = (data[i + 2]! << 8) | data[i + 3]!;
        head = 4;
      } else if (size === 127) {
        if (len - i < 10) break;
        size = data.readUInt32BE(i + 2) * 2 ** 32 + data.readUInt32BE(i + 6);
        head = 10;
      }
      if (b1 & 0x80) head += 4; // a masked server frame is a protocol error; skip the key anyway
      if (len - i < head + size) break;
      const start = i + head;
      const end = start + size;
      i = end;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1 && b0 & 0x80) this.handlers.message(data, start, end);
      else if (opcode === 0x8) this.onCloseFrame(size >= 2 ? (data[start]! << 8) | data[start + 1]! : 1005);
      else if (opcode === 0x9) this.writeFrame(0xa, Buffer.from(data.subarray(start, end)));
      else if (opcode !== 0xa) this.fail(new Error(`unexpected WebSocket frame: opcode ${opcode}, fin ${b0 >> 7}`));
    }
    if (i < len && this.state !== State.Closed) this.pending = Buffer.from(data.subarray(i));
    return true;
  }

  /** Parses the 101 answer; returns where the frames start, or -1 while incomplete or refused. */
  private handshake(data: Buffer): number {
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) {
      this.pending = Buffer.from(data);
      return -1;
    }
    const head = data.toString('latin1', 0, end);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
    const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    const expected = createHash('sha1')
      .update(this.key + GUID)
      .digest('base64');
    if (status !== '101' || accept !== expected) {
      this.fail(new Error(status !== '101' ? `WebSocket upgrade refused: HTTP ${status ?? '?'}` : 'WebSocket upgrade: bad Sec-WebSocket-Accept'));
      this.socket.destroy();
      return -1;
    }
    this.state = State.Open;
    this.handlers.open();
    return end + 4;
  }

  private onCloseFrame(code: number): void {
    if (this.state === State.Open) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code === 1005 ? 1000 : code);
      this.writeFrame(0x8, payload);
    }
    this.socket.end();
    this.closed(code);
  }

  private fail(error: Error): void {
    if (this.state === State.Handshake) {
      this.state = State.Closed;
      this.handlers.error(error);
    } else if (this.state !== State.Closed) {
      this.handlers.error(error);
    }
  }

  private closed(code: number): void {
    if (this.state === State.Closed) return;
    const wasOpen = this.state !== State.Handshake;
    this.state = State.Closed;
    if (wasOpen) this.handlers.close(code);
    else this.handlers.error(new Error('connection closed during the WebSocket handshake'));
  }
}
