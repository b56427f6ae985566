import { Router, type Request } from 'express';
import { OAuthError } from '../oauth/errors.js';
import { parseCodeChallenge } from '../oauth/pkce.js';
import { splitScopes, validateScopes } from '../oauth/scopes.js';
import {
  DEFAULT_POLL_INTERVAL_SECONDS,
  deviceLoginPKCE,
  deviceLoginTag,
  normalizeUserCode,
  verifyDeviceLoginTag,
} from '../oauth/device.js';
import { verifyCodeVerifier } from '../oauth/pkce.js';
import { authorizationOf } from '../tokens/authorization.js';
import { CodeNotFoundError } from '../oauth/codes.js';
import { browserTag, verifyBrowserTag } from '../oauth/browser-binding.js';
import { throttleKeyForIP } from '../oauth/throttle.js';
import { browserValue, ensureBrowserValue, findClient, issuerRoute, type ServerContext } from './context.js';
import { formBody, singleParams } from './form.js';
import { authenticateClient } from './token/client-auth.js';
import { noStore, sendOAuthError } from './token/index.js';
import { renderErrorPage, renderPage } from './pages.js';
import { beginLogin } from './authorize.js';
import { issuerURL } from '../config/issuer.js';
import type { PKCE } from '../storage/storage.js';

/** Holds the tag binding a device login to the browser that entered its user code (oauth/device.ts). */
const DEVICE_LOGIN_COOKIE = 'latchkey_device_login';

export function deviceCallbackURL(ctx: ServerContext): string {
  return issuerURL(ctx.config.issuer, '/device/callback');
}

/**
 * The device authorization grant's endpoints (RFC 8628): /device/code for the device, /device and
 * /device/auth/verify_code for the user's browser, /device/callback where the browser login ends.
 */
export function deviceRoutes(ctx: ServerContext): Router {
  const router = Router();
  const { deviceRequests, deviceRequestsPerClient, userCodeFailures } = ctx.limits;
  const policy = {
    enforce: ctx.config.oauth2.pkce.enforce,
    methods: ctx.config.oauth2.pkce.codeChallengeMethodsSupported,
  };

  router.post('/device/code', formBody, async (req, res) => {
    try {
      const params = singleParams(req);
      // Registered, authenticated clients only: nothing is written for anyone else.
      const client = await authenticateClient(ctx, req, params);
      // Per client and address when the address is the client's own; per client alone otherwise (a shared
      // NAT address must not let one device starve the others of codes, and the client is authenticated).
      const address = ctx.clientAddress(req);
      const key = address.distinct ? `${client.id}\u0000${throttleKeyForIP(address.ip)}` : client.id;
      if (!(await (address.distinct ? deviceRequests : deviceRequestsPerClient).take(key))) {
        throw new OAuthError('slow_down', 'Too many device authorization requests. Try again later.', 429);
      }
      const scopes = splitScopes(params.scope ?? 'openid');
      await validateScopes(scopes, client.id, (id) => findClient(ctx.storage, id));
      const pkce = parseCodeChallenge(params.code_challenge, params.code_challenge_method, policy);
      const started = await ctx.device.start(client.id, scopes, pkce);
      const verificationURI = issuerURL(ctx.config.issuer, '/device');
      noStore(res).json({
        device_code: started.deviceCode,
        user_code: started.userCode,
        verification_uri: verificationURI,
        verification_uri_complete: `${verificationURI}?${new URLSearchParams({ user_code: started.userCode })}`,
        expires_in: started.expiresIn,
        interval: DEFAULT_POLL_INTERVAL_SECONDS,
      });
    } catch (e) {
      sendOAuthError(res, e);
    }
  });

  const renderEntry = (
    req: Request,
    res: Parameters<typeof renderPage>[1],
    status: number,
    userCode: string,
    invalid: boolean,
  ) =>
    renderPage(ctx, res, status, 'device.html', {
      PostURL: issuerRoute(ctx, '/device/auth/verify_code'),
      UserCode: userCode,
      Invalid: invalid,
      CSRFToken: browserTag(ensureBrowserValue(ctx, req, res), 'device'),
    });

  router.get('/device', async (req, res) => {
    const prefill =
      typeof req.query.user_code === 'string' ? (normalizeUserCode(req.query.user_code) ?? '') : '';
    await renderEntry(req, res, 200, prefill, false);
  });

  router.post('/device/auth/verify_code', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!verifyBrowserTag(browserValue(req), 'device', body.csrf_token)) {
      return renderErrorPage(ctx, res, 403, 'This form has expired. Open the device login page again.');
    }
    // Wrong user codes per address when it is the client's own. Behind a shared address, per browser: one
    // budget for everyone would let a stranger lock every device login out, and a browser that starts
    // afresh still faces 20^8 possible codes, each alive for minutes.
    const address = ctx.clientAddress(req);
    const ipKey = address.distinct ? throttleKeyForIP(address.ip) : `browser:${browserValue(req) ?? ''}`;
    if (await userCodeFailures.exhausted(ipKey)) return renderEntry(req, res, 429, '', true);
    const userCode = normalizeUserCode(body.user_code);
    const request = userCode ? await ctx.device.request(userCode) : undefined;
    if (!request) {
      await userCodeFailures.add(ipKey);
      return renderEntry(
        req,
        res,
        400,
        typeof body.user_code === 'string' ? body.user_code.slice(0, 16) : '',
        true,
      );
    }
    // The CSRF check above proved the browser holds its binding value.
    const tag = deviceLoginTag(browserValue(req)!, request.userCode);
    res.cookie(DEVICE_LOGIN_COOKIE, tag, {
      httpOnly: true,
      // Lax: sent on the top-level GET that ends the login at /device/callback (from an upstream too).
      sameSite: 'lax',
      secure: ctx.config.issuer.startsWith('https:'),
      path: issuerRoute(ctx, '/device/callback'),
      maxAge: Math.max(0, request.expiry.getTime() - ctx.clock.now().getTime()),
    });
    await beginLogin(ctx, req, res, {
      clientID: request.clientID,
      redirectURI: deviceCallbackURL(ctx),
      responseType: 'code',
      scopes: request.scopes,
      state: request.userCode,
      nonce: '',
      pkce: deviceLoginPKCE(tag),
      prompt: [],
      forceApproval: false,
    });
  });

  router.get('/device/callback', async (req, res) => {
    const userCode = normalizeUserCode(req.query.state);
    // Only the browser that entered the user code may finish its login; anyone else is refused before any
    // storage call (a callback URL that leaked, or one with `state` naming someone else's device).
    const tag = (req.cookies as Record<string, unknown> | undefined)?.[DEVICE_LOGIN_COOKIE];
    if (userCode && !verifyDeviceLoginTag(browserValue(req), userCode, tag)) {
      return renderErrorPage(
        ctx,
        res,
        403,
        'This device login was started in another browser. Enter the code shown on the device here.',
      );
    }
    const request = userCode ? await ctx.device.request(userCode) : undefined;
    if (!request || typeof req.query.code !== 'string') {
      return renderErrorPage(
        ctx,
        res,
        400,
        'This device login has expired or is unknown. Start again on the device.',
      );
    }
    let code;
    try {
      code = await ctx.codes.redeem(req.query.code);
    } catch (e) {
      if (e instanceof OAuthError || e instanceof CodeNotFoundError) {
        return renderErrorPage(ctx, res, 400, 'This device login has expired or was already used.');
      }
      throw e;
    }
    if (
      code.clientID !== request.clientID ||
      code.redirectURI !== deviceCallbackURL(ctx) ||
      !verifiesDeviceLogin(code.pkce, tag as string)
    ) {
      return renderErrorPage(ctx, res, 400, 'This login does not belong to that device.');
    }
    try {
      await ctx.device.complete(request, { ...authorizationOf(code), clientID: request.clientID });
    } catch (e) {
      if (e instanceof OAuthError)
        return renderErrorPage(ctx, res, 409, 'This device login was already finished.');
      throw e;
    }
    res.clearCookie(DEVICE_LOGIN_COOKIE, { path: issuerRoute(ctx, '/device/callback') });
    const client = await findClient(ctx.storage, request.clientID);
    req.log.info(
      { client: request.clientID, connector: code.connectorID, user: code.claims.userID },
      'device login approved',
    );
    await renderPage(ctx, res, 200, 'device_success.html', { ClientName: client?.name || request.clientID });
  });

  return router;
}

/** Whether the code was issued for the device login this browser's tag names (its PKCE challenge). */
function verifiesDeviceLogin(pkce: PKCE, tag: string): boolean {
  try {
    verifyCodeVerifier(pkce, tag);
    return pkce.codeChallengeMethod === 'S256';
  } catch (e) {
    if (e instanceof OAuthError) return false;
    throw e;
  }
}
