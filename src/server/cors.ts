import cors from 'cors';
import type { RequestHandler } from 'express';
import type { WebConfig } from '../config/types.js';

/**
 * CORS for the endpoints browsers call from other origins (discovery, keys, token, userinfo, introspection),
 * only when `web.allowedOrigins` is set — as Dex does.
 */
export function corsFor(web: WebConfig): RequestHandler {
  if (web.allowedOrigins.length === 0) return (_req, _res, next) => next();
  const any = web.allowedOrigins.includes('*');
  return cors({
    origin: any ? '*' : web.allowedOrigins,
    allowedHeaders: web.allowedHeaders,
    methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
  });
}
