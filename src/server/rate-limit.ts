import type { Request, RequestHandler } from 'express';
import { OAuthError } from '../oauth/errors.js';
import { throttleKeyForIP } from '../oauth/throttle.js';
import type { ServerContext } from './context.js';
import { renderErrorPage } from './pages.js';
import { sendOAuthError } from './token/index.js';

// The request rate of the endpoints anyone can call without a credential (issue 13 §3): /token (with
// /token/introspect and /token/revoke) and /device/*. Checked before anything else, so a refused request
// costs no storage call: a flood of made-up codes, refresh tokens or device polls turns into refusals that
// cost nothing instead of API-server reads.
//
// One token bucket per client address — and only when the address is the client's own (server/client-ip.ts).
// Behind a NodePort's source NAT or an ingress that is not a trusted proxy, every request has the same peer:
// a bucket keyed by it, however large, would be one budget for everyone, which any stranger behind that
// address could empty for all the others. Nothing else is both cheap and the client's own before its
// credential is checked: a client_id or a cookie is whatever the request says (fresh values dodge a limit
// keyed by them; a public client's well-known id would let a stranger spend every user's budget of that
// client). So shared addresses get no bucket, as they get no per-address password limit, and the warning
// about private peers without trusted proxies says so; such requests still cost no writes and a malformed
// credential still no read.

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The bucket in front of /token and /device; mount it on those paths only, before their routes. */
export function requestRateLimit(ctx: ServerContext): RequestHandler {
  return async (req, res, next) => {
    const address = ctx.clientAddress(req);
    if (!address.distinct) return next();
    const waitSeconds = await ctx.limits.requests.take(throttleKeyForIP(address.ip));
    if (waitSeconds === 0) return next();
    // RFC 6585 §4: 429 Too Many Requests, with Retry-After saying when to come back.
    res.setHeader('Retry-After', String(waitSeconds));
    if (isDevicePage(req)) {
      void renderErrorPage(
        ctx,
        res,
        429,
        `Too many requests from your address. Try again in ${waitSeconds} seconds.`,
      ).catch(next);
      return;
    }
    sendOAuthError(res, tooManyRequests(req, waitSeconds));
  };
}

/**
 * The OAuth error a refused request carries. RFC 6749 §5.2 has no code for "too many requests" at the token
 * endpoint, so:
 * - a device poll hears `slow_down` (RFC 8628 §3.5): the one answer a polling device takes as "wait longer
 *   and poll again"; any other error ends its login;
 * - everything else hears `temporarily_unavailable` (RFC 6749 §4.1.2.1's "temporarily unable to handle the
 *   request", what /token already answers during a storage outage): a transient error a client retries,
 *   never `invalid_grant`, which would make it throw its refresh token away.
 */
function tooManyRequests(req: Request, waitSeconds: number): OAuthError {
  const grantType = (req.body as Record<string, unknown> | undefined)?.grant_type;
  const description = `Too many requests from this address; retry after ${waitSeconds} seconds.`;
  return grantType === DEVICE_CODE_GRANT && req.baseUrl.endsWith('/token')
    ? new OAuthError('slow_down', description, 429)
    : new OAuthError('temporarily_unavailable', description, 429);
}

/** /device, /device/auth/verify_code and /device/callback are browser pages; /device/code is OAuth JSON. */
function isDevicePage(req: Request): boolean {
  return req.baseUrl.endsWith('/device') && req.path !== '/code';
}
