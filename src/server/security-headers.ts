import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * Strict defaults for every response: no inline script, no framing, no referrer, no sniffing; HSTS only
 * when serving HTTPS. `web.headers` from the config is applied afterwards and wins, as in Dex.
 */
export function securityHeaders(opts: {
  https: boolean;
  configured: Record<string, string>;
}): RequestHandler[] {
  const base = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'https:'],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: opts.https ? { maxAge: 31536000 } : false,
    crossOriginResourcePolicy: false,
  });
  const configured: RequestHandler = (_req, res, next) => {
    for (const [name, value] of Object.entries(opts.configured)) res.setHeader(name, value);
    next();
  };
  return [base, configured];
}
