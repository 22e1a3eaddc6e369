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
    // Read now: the routers below rewrite req.url while they handle it.
    const path = req.path;
    const hasSignature = req.get('x-twilio-signature') !== undefined;
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
      metrics.webhookAnswered(path, res.statusCode, seconds, hasSignature);
    });
    next();
  };
}
