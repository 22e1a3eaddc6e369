/**
 * The media endpoint: wires each WebSocket on /media to a MediaSession. The only module that
 * touches ws objects. Handlers are attached synchronously when the socket opens, so Twilio's
 * `connected` and `start` (sent immediately) are never missed.
 */
import type { Application } from 'express-ws';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { MediaSession, type MediaSessionOptions } from './session.js';

export function mountMediaEndpoint(
  app: Application,
  path: string,
  options: Omit<MediaSessionOptions, 'log'> & { log: Logger },
  sessions: Set<MediaSession>,
): void {
  app.ws(path, (ws: WebSocket, req) => {
    const log = options.log.child({ remote: req.socket.remoteAddress });
    const session = new MediaSession(ws, { ...options, log });
    sessions.add(session);
    ws.on('message', (data: unknown) => {
      // ws 7 (express-ws) delivers text frames as strings and binary frames as Buffers.
      if (typeof data === 'string') session.handleText(data);
      else session.handleBinary();
    });
    ws.on('close', (code: number) => {
      sessions.delete(session);
      session.handleClose(code);
    });
    ws.on('error', (error: Error) => {
      log.warn({ err: error.message }, 'websocket error');
    });
  });
}
