/**
 * The media endpoint: wires each WebSocket on /media to a MediaSession. The only module that
 * touches ws objects. Handlers are attached synchronously when the socket opens, so Twilio's
 * `connected` and `start` (sent immediately) are never missed.
 *
 * Also the upgrade check (path, Twilio signature or join ticket, open sockets), which runs before
 * any WebSocket exists (ws's verifyClient: Express middleware does not run on upgrades), and the
 * heartbeat that finds dead sockets.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Application } from 'express-ws';
import type { WebSocket } from 'ws';
import { ERRORS, type HttpErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { checkStreamSignature, streamUrlFor } from '../security/twilioSignature.js';
import { MediaSession, type MediaSessionOptions, type MediaSocket } from './session.js';
import { InboundFrames } from './wsInbound.js';
import { textFrameLatin1 } from './wsFrame.js';

export interface MediaEndpointOptions extends Omit<MediaSessionOptions, 'log'> {
  log: Logger;
  /** Largest inbound WebSocket message (ws's maxPayload, the same for the endpoint's own parser). */
  maxMessageBytes: number;
  /** Told at each read from a media socket: the loop is busy with media from now (timing/busySince.ts). */
  markBusy?: () => void;
  /**
   * Every this many ms each socket is pinged; one that answered neither the last ping nor sent
   * any message since is dropped (HEARTBEAT_TIMEOUT). 0: no heartbeat.
   */
  heartbeatIntervalMs?: number;
}

export interface MediaEndpoint {
  /** Stops the heartbeat (the server's close()). */
  stop(): void;
}

/** Where the endpoint registers each live session (the metrics' set). */
export interface SessionRegistry {
  add(session: MediaSession): unknown;
  delete(session: MediaSession): boolean;
}

export function mountMediaEndpoint(app: Application, path: string, options: MediaEndpointOptions, sessions: SessionRegistry): MediaEndpoint {
  const { heartbeatIntervalMs = 0, maxMessageBytes, markBusy, ...sessionOptions } = options;
  /** Socket -> its session and whether it showed life (pong or message) since the last ping. */
  const live = new Map<WebSocket, { session: MediaSession; alive: boolean }>();

  app.ws(path, (ws: WebSocket, req) => {
    const log = options.log.child({ remote: req.socket.remoteAddress });
    const session = new MediaSession(mediaSocketOf(ws), { ...sessionOptions, log });
    const entry = { session, alive: true };
    sessions.add(session);
    live.set(ws, entry);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      entry.alive = true;
      // ws 8 (also under express-ws, through package.json's overrides) delivers every message as
      // a Buffer and says whether it was a binary frame; a text frame's UTF-8 is already checked.
      if (isBinary) session.handleBinary();
      else session.handleText(data.toString());
    });
    ws.on('pong', () => {
      entry.alive = true;
    });
    readFramesDirectly(ws, maxMessageBytes, markBusy, {
      text(bytes, length) {
        entry.alive = true;
        session.handleTextBytes(bytes, length);
      },
      pong() {
        entry.alive = true;
      },
    });
    ws.on('close', (code: number) => {
      live.delete(ws);
      sessions.delete(session);
      session.handleClose(code);
    });
    ws.on('error', (error: Error & { code?: string }) => {
      // ws has already sent its close code (1009 for maxPayload); the session names it once.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') session.handleSocketFault('MESSAGE_TOO_BIG', error.message);
      else log.warn({ err: error.message, code: error.code }, 'websocket error');
    });
  });

  let timer: NodeJS.Timeout | null = null;
  if (heartbeatIntervalMs > 0) {
    let lastRunMs = performance.now();
    timer = setInterval(() => {
      // After a stall of this process (the timer itself late), pongs that did arrive may not have
      // been read yet: judge nobody this round, only ping again.
      const nowMs = performance.now();
      const stalled = nowMs - lastRunMs > heartbeatIntervalMs * 1.5;
      lastRunMs = nowMs;
      for (const [ws, entry] of live) {
        if (!entry.alive && !stalled) {
          entry.session.handleSocketFault('HEARTBEAT_TIMEOUT', `${heartbeatIntervalMs} ms`);
          ws.terminate();
          continue;
        }
        entry.alive = false;
        try {
          ws.ping();
        } catch {
          // Not open (closing): its close event will clean up.
        }
      }
    }, heartbeatIntervalMs);
    timer.unref();
  }
  return {
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

/**
 * Takes the socket's inbound data from ws (wsInbound.ts): whole text frames and pongs are read here
 * and handed to `sink`; from the first frame of any other kind on, everything goes to ws's own
 * parser, as if this had never been (its 'message', 'ping', 'close' and errors, as before). Left to
 * ws altogether where its socket or data listener is not where ws 8 keeps them.
 */
function readFramesDirectly(
  ws: WebSocket,
  maxMessageBytes: number,
  markBusy: (() => void) | undefined,
  sink: { text(bytes: Buffer, length: number): void; pong(): void },
): void {
  const tcp = (ws as unknown as { _socket?: net.Socket })._socket;
  const wsOnData = tcp?.listeners('data').find((listener) => listener.name === 'socketOnData') as ((chunk: Buffer) => void) | undefined;
  if (!tcp || !wsOnData) return;
  const onData = (chunk: Buffer) => {
    markBusy?.();
    frames.push(chunk);
  };
  const frames = new InboundFrames(sink, maxMessageBytes, (rest) => {
    tcp.removeListener('data', onData);
    tcp.on('data', wsOnData);
    if (rest.length > 0) wsOnData.call(tcp, rest);
  });
  tcp.removeListener('data', wsOnData);
  tcp.on('data', onData);
}

/**
 * The session's view of a ws socket. Text goes out as one prebuilt frame in one write to the TCP
 * socket (wsFrame.ts) while the WebSocket is open; otherwise, and for non-ASCII text, through
 * ws.send(). Writing beside ws is safe because permessage-deflate is off (server.ts): ws's sender
 * then writes each frame to the socket at once and queues nothing, so the order of frames on the
 * wire is the order of the calls; ws.bufferedAmount counts what the socket holds, these included.
 */
export function mediaSocketOf(ws: WebSocket): MediaSocket {
  return new WsMediaSocket(ws);
}

/** A class, so every session's socket has one shape and its getter one home (the tick reads it per frame). */
class WsMediaSocket implements MediaSocket {
  /** ws keeps its TCP socket in `_socket` (ws 7 and 8); without one, everything goes through send(). */
  private readonly tcp: net.Socket | null;

  constructor(private readonly ws: WebSocket) {
    this.tcp = (ws as unknown as { _socket?: net.Socket })._socket ?? null;
  }

  private get open(): boolean {
    return this.tcp !== null && this.ws.readyState === this.ws.OPEN;
  }

  send(text: string): void {
    const frame = this.open ? textFrameLatin1(text) : null;
    if (frame !== null) this.tcp!.write(frame, 'latin1');
    else this.ws.send(text);
  }

  sendPair(first: string, second: string): void {
    const a = this.open ? textFrameLatin1(first) : null;
    const b = a !== null ? textFrameLatin1(second) : null;
    if (b !== null) this.tcp!.write(a + b, 'latin1');
    else {
      this.send(first);
      this.send(second);
    }
  }

  writeFrame(frame: Buffer): 'released' | 'held' | 'refused' {
    if (!this.open) return 'refused';
    const tcp = this.tcp!;
    tcp.write(frame);
    // Nothing left in the stream: the bytes went to the kernel in the write itself and the stream
    // kept no reference. Otherwise the stream (or libuv) holds `frame` until it drains.
    return tcp.writableLength === 0 ? 'released' : 'held';
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  get bufferedAmount(): number {
    // With permessage-deflate off, ws queues nothing itself: what the socket holds is all.
    return this.tcp !== null ? this.tcp.writableLength : this.ws.bufferedAmount;
  }
}

export interface UpgradeCheckOptions {
  /** The media path, as in the stream URL (also accepted with a trailing slash). */
  path: string;
  /** Undefined: development mode, no signature check. */
  authToken: string | undefined;
  publicUrl: string | undefined;
  /** False while the server shuts down: upgrades get 503. */
  isAdmitting: () => boolean;
  /**
   * Instead of a Twilio signature, an upgrade may carry `?ticket=<join ticket>` that this accepts
   * (unexpired, unused; the `start` must still redeem it): browser participants, which cannot
   * set headers on a WebSocket upgrade.
   */
  ticketAccepted?: (ticket: string) => boolean;
  /** False when no more sockets may open (a connection flood): 503. */
  hasRoom?: () => boolean;
  /** Told at each upgrade: the loop is busy with a call set-up from now (timing/busySince.ts). */
  markBusy?: () => void;
  /**
   * In a cluster, this node's public path prefix (/p/<k>): the proxy strips it and says so in
   * X-Forwarded-Prefix; the signed stream URL has it. '' or absent: none.
   */
  publicPrefix?: string;
  log: Logger;
}

type VerifyDone = (ok: boolean, code?: number, message?: string) => void;

/**
 * ws's `verifyClient` for the media endpoint: refuses, before the WebSocket opens, an upgrade to
 * another path (404), while shutting down (503), and, with TWILIO_AUTH_TOKEN, one whose
 * `x-twilio-signature` is missing or is not over the stream URL (403 either way), unless it carries a
 * redeemable join ticket in `?ticket=` (a browser participant). One warn line per signature
 * refusal; the token never appears.
 */
export function mediaUpgradeCheck(options: UpgradeCheckOptions): (info: { req: http.IncomingMessage }, done: VerifyDone) => void {
  // ws answers the status with the text as a plain body: no WebSocket, and no JSON (no route runs).
  const refuse = (done: VerifyDone, code: HttpErrorCode, detail?: string) => done(false, ERRORS[code].httpStatus, detail ?? ERRORS[code].text);
  return ({ req }, done) => {
    options.markBusy?.();
    let requested: URL;
    try {
      requested = new URL(req.url ?? '/', 'http://x');
    } catch {
      // An absolute-form target that is no URL (`GET http://x:99999/media`): this runs in the
      // server's upgrade event, where a throw would take the process down.
      options.log.warn({ remote: req.socket.remoteAddress, target: String(req.url).slice(0, 100) }, 'media upgrade refused: request target is not a URL');
      return refuse(done, 'BAD_REQUEST', 'the request target is not a URL');
    }
    const pathname = requested.pathname;
    if (pathname !== options.path && pathname !== `${options.path}/`) return refuse(done, 'NOT_FOUND');
    if (!options.isAdmitting()) return refuse(done, 'SHUTTING_DOWN');
    if (options.hasRoom && !options.hasRoom()) {
      options.log.warn({ remote: req.socket.remoteAddress }, 'media upgrade refused: too many open media sockets');
      return refuse(done, 'TOO_MANY_SOCKETS');
    }
    if (!options.authToken) return done(true);
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const url = streamUrlFor(
      options.publicUrl,
      {
        protocol: (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
        host: header('host'),
        forwardedProto: header('x-forwarded-proto'),
        forwardedHost: header('x-forwarded-host'),
      },
      header('x-forwarded-prefix') === options.publicPrefix && options.publicPrefix ? `${options.publicPrefix}${options.path}` : options.path,
    );
    const verdict = checkStreamSignature(options.authToken, header('x-twilio-signature'), url);
    if (verdict.ok) return done(true);
    const ticket = requested.searchParams.get('ticket');
    if (ticket && options.ticketAccepted?.(ticket.slice(0, 400))) return done(true);
    // 403 whether missing or wrong: a prober learns nothing from the answer; the log says which.
    const code = verdict.reason === 'missing' ? 'SIGNATURE_MISSING' : 'SIGNATURE_INVALID';
    options.log.warn({ remote: req.socket.remoteAddress, url: url.slice(0, 200), code, status: 403 }, `media upgrade refused: ${ERRORS[code].text}`);
    refuse(done, 'SIGNATURE_INVALID');
  };
}
