/**
 * Express middleware that times the voice webhooks for the metrics (mount before them): the
 * metrics themselves know nothing of Express.
 */
import type { NextFunction, Request, Response } from 'express';

export interface WebhookObserver {
  webhookAnswered(path: string, status: number, seconds: number, hasSignature: boolean): void;
}

export function webhookTimer(metrics: WebhookObserver) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || !req.path.startsWith('/voice')) return next();
    const startNs = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
      metrics.webhookAnswered(req.path, res.statusCode, seconds, req.get('x-twilio-signature') !== undefined);
    });
    next();
  };
}
