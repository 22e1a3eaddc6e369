/**
 * The one way an HTTP route refuses: `{"error": {"code", "message"}}` with the status of `code` in
 * the error catalog (src/errors.ts). `message` is the detail when the route knows what exactly was
 * wrong (a whole sentence: "no room 4711"), else the catalog's text. Never a stack trace.
 */
import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { AppError, type ErrorCode, ERRORS, type HttpErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { named } from './apiContract.js';

/** Every code a request can be answered with, in the catalog's order. */
export const HTTP_ERROR_CODES = (Object.keys(ERRORS) as ErrorCode[]).filter((code): code is HttpErrorCode => 'httpStatus' in ERRORS[code]);

/** Every refusal's body (the admin API's contract names it `Error`). */
export const errorBody = named(
  'Error',
  z.object({ error: z.object({ code: z.enum(HTTP_ERROR_CODES as [HttpErrorCode, ...HttpErrorCode[]]), message: z.string() }) }),
  "A refusal: `code` from the error catalog (the README's HTTP errors), `message` what exactly was wrong.",
);
export type ErrorBody = z.infer<typeof errorBody>;

/** Answers `code` (or an AppError's code and detail). */
export function sendError(res: Response, code: HttpErrorCode | AppError<HttpErrorCode>, detail?: string): void {
  if (code instanceof AppError) return sendError(res, code.code, code.detail);
  const body: ErrorBody = { error: { code, message: detail ?? ERRORS[code].text } };
  res.status(ERRORS[code].httpStatus).json(body);
}

/** The 404 detail for a request no route took: method and path, cut short (they are the client's). */
export function noRoute(req: Request): string {
  return `no route for ${req.method.slice(0, 16)} ${(req.baseUrl + req.path).slice(0, 100)}`;
}

/** `error` as a refusal, when it is one: an AppError with an HTTP status, or a body parser's 4xx. */
export function refusalOf(error: unknown): AppError<HttpErrorCode> | null {
  if (error instanceof AppError) return 'httpStatus' in ERRORS[error.code as keyof typeof ERRORS] ? (error as AppError<HttpErrorCode>) : null;
  const e = error as { status?: unknown; type?: unknown; message?: unknown } | null;
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return null;
  // body-parser's: too large (bytes or parameters), a charset other than UTF-8, not JSON; send's
  // (a file to download that went missing): 404.
  if (e.status === 404) return new AppError('NOT_FOUND');
  if (e.status === 413) return new AppError('PAYLOAD_TOO_LARGE', String(e.message).slice(0, 200));
  if (e.status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', String(e.message).slice(0, 200));
  if (e.type === 'entity.parse.failed') return new AppError('BAD_REQUEST', 'the body is not valid JSON');
  return new AppError('BAD_REQUEST', typeof e.message === 'string' ? e.message.slice(0, 200) : undefined);
}

/**
 * An Express error handler: a refusal is answered as such (a body parser's with one warn line),
 * anything else is our fault: one error line and a 500 that says nothing more.
 */
export function errorHandler(log: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    // Part of an answer is out (a file being sent): nothing sensible can follow it.
    if (res.headersSent) return void res.destroy();
    const refusal = refusalOf(error);
    if (refusal) {
      if (!(error instanceof AppError))
        log.warn({ path: req.path, status: ERRORS[refusal.code].httpStatus, type: (error as { type?: string }).type }, `request refused: ${refusal.message}`);
      return sendError(res, refusal);
    }
    log.error({ err: error, path: req.path }, 'request failed');
    sendError(res, 'INTERNAL');
  };
}
