/**
 * The Media Streams WebSocket server: express-ws on the HTTP server, the /media route, and the
 * checks made before a socket opens (path, shutdown, Twilio signature or join ticket, a flood).
 * Mount it on the app before any other middleware: nothing may run (or defer) before the
 * route's handlers attach.
 */
import type http from 'node:http';
import type express from 'express';
import expressWs from 'express-ws';
import type { WebSocket } from 'ws';
import { SAMPLES_PER_FRAME } from '../audio/format.js';
import type { Config } from '../config.js';
import type { Conference } from '../conference/conference.js';
import { ERRORS } from '../errors.js';
import { MEDIA_PATH } from '../http/webhooks.js';
import type { Logger } from '../log.js';
import { mediaUpgradeCheck, mountMediaEndpoint } from '../media/endpoint.js';
import { observeUpgrades, type Metrics } from '../observability/metrics.js';
import type { Admission } from '../rooms/admission.js';
import type { JoinTickets } from '../security/joinTicket.js';
import type { LoopBusySince } from '../timing/busySince.js';
import type { Clock } from '../timing/clock.js';

/** Largest WebSocket message accepted: a 20 ms media message is ~330 bytes; this allows ~400 ms. */
const WS_MAX_PAYLOAD_BYTES = 8 * 1024;
/** Largest media payload accepted, decoded (400 ms of audio). */
const MAX_MEDIA_PAYLOAD_BYTES = 20 * SAMPLES_PER_FRAME;
/** ~1 s of outbound media messages: past this a caller's socket is not draining. */
const MAX_BUFFERED_BYTES = 50 * 330;

export interface MediaServerDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  conference: Conference;
  admission: Pick<Admission, 'authorizeStart'>;
  tickets: Pick<JoinTickets, 'isRedeemable'>;
  /** Sessions are kept in its set; refused upgrades and socket closes are counted. */
  metrics: Pick<Metrics, 'sessions' | 'upgradeRefused' | 'webSocketClosed'>;
  busySince: LoopBusySince;
  markBusy: () => void;
  /** False once shutdown has begun: upgrades get 503. */
  isAdmitting: () => boolean;
}

export interface MediaServer {
  /** Stops the sockets' heartbeat. */
  stopHeartbeat(): void;
  /** Closes every open media socket, streaming or not, with the shutdown close code. */
  closeAll(): void;
  /** Drops every socket that has not closed (the end of shutdown's grace). */
  terminateAll(): void;
  /** Forgets the sessions (their sockets are gone). */
  clearSessions(): void;
}

export function createMediaServer(app: express.Application, httpServer: http.Server, deps: MediaServerDeps): MediaServer {
  const { config, clock, log, metrics, markBusy } = deps;
  // Counted here, not read off the WebSocket server: the upgrade check runs inside it.
  const open = new Set<WebSocket>();
  const wsInstance = expressWs(app, httpServer, {
    wsOptions: {
      maxPayload: WS_MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
      // Refuse before the WebSocket opens: another path (404; Twilio reports 31920), shutting down
      // (503), and with TWILIO_AUTH_TOKEN an unsigned or wrongly signed upgrade (403).
      verifyClient: observeUpgrades(
        mediaUpgradeCheck({
          markBusy,
          path: MEDIA_PATH,
          authToken: config.twilioAuthToken,
          publicUrl: config.publicUrl,
          isAdmitting: deps.isAdmitting,
          ticketAccepted: (ticket) => deps.tickets.isRedeemable(ticket),
          log,
          // Every seat, and room for that many again waiting for their start: beyond, 503.
          hasRoom: () => open.size < 2 * config.maxParticipants,
          publicPrefix: config.nodePublicPrefix,
        }),
        (status, hasSignature) => metrics.upgradeRefused(status, hasSignature),
      ),
    },
  });
  const wss = wsInstance.getWss();
  wss.on('connection', (ws) => {
    open.add(ws);
    ws.once('close', (code: number) => {
      open.delete(ws);
      metrics.webSocketClosed(code);
    });
  });
  const endpoint = mountMediaEndpoint(
    wsInstance.app,
    MEDIA_PATH,
    {
      conference: deps.conference,
      clock,
      busySinceMs: () => deps.busySince.sinceMs(),
      log,
      // The join ticket from the webhook decides the room and seat; nothing else gets in.
      authorizeStart: (claim) => deps.admission.authorizeStart(claim),
      startTimeoutMs: config.startTimeoutMs,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
      maxPayloadBytes: MAX_MEDIA_PAYLOAD_BYTES,
      maxMessageBytes: WS_MAX_PAYLOAD_BYTES,
      markBusy,
      maxLeadMs: config.outboundMaxLeadMs,
      framesPerMessage: config.outboundMessageMs === 40 ? 2 : 1,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
    },
    metrics.sessions,
  );
  return {
    stopHeartbeat: () => endpoint.stop(),
    closeAll() {
      for (const client of wss.clients) client.close(ERRORS.SHUTTING_DOWN.wsCode, ERRORS.SHUTTING_DOWN.text);
    },
    terminateAll() {
      for (const client of wss.clients) client.terminate();
    },
    clearSessions: () => metrics.sessions.clear(),
  };
}
