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
  // helmet's headers are the same on every response here (no CSP nonces): compute them once through
  // helmet itself, then set them in one loop — half the cost of running helmet's dozen middlewares per
  // request on the token endpoint. `web.headers` from the config is applied afterwards and wins.
  const headers = new Map<string, string | number | readonly string[]>();
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => headers.set(name, value),
    removeHeader: (name: string) => headers.delete(name),
    getHeader: (name: string) => headers.get(name),
  };
  base({} as Parameters<RequestHandler>[0], recorder as unknown as Parameters<RequestHandler>[1], () => {});
  for (const [name, value] of Object.entries(opts.configured)) headers.set(name, value);
  const fixed = [...headers];
  return [
    (_req, res, next) => {
      for (const [name, value] of fixed) res.setHeader(name, value);
      res.removeHeader('X-Powered-By');
      next();
    },
  ];
}
