import { Router, type Request, type Response } from 'express';
import type { Client, Session } from '../storage/storage.js';
import { browserTag, verifyBrowserTag } from '../oauth/browser-binding.js';
import { isExactPostLogoutRedirectURI } from '../oauth/logout-request.js';
import { MAX_STATE_BYTES } from '../oauth/authorize.js';
import type { IdTokenHint } from '../tokens/verify.js';
import { encodeSubject } from '../tokens/subject.js';
import { ensureBrowserValue, findClient, issuerRoute, type ServerContext } from './context.js';
import { renderErrorPage, renderPage } from './pages.js';
import { currentSession } from './session-cookie.js';

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the signed-in page at `/`, mounted only
// when sessions are on. A logout ends the browser's session everywhere (the record is deleted: every
// replica's next read misses), clears the cookie, notifies the relying parties that took part over the
// back channel without waiting for them, and only then follows a post-logout redirect URI that is
// registered for the client, exactly.

type Params = Record<string, unknown>;

/** The logout request's parameters, once checked; or the page that says why they cannot be used. */
type LogoutRequest =
  | {
      ok: true;
      hint?: IdTokenHint;
      client?: Client;
      /** Registered for the client, exactly; absent = show the logged-out page. */
      redirectURI?: string;
      state?: string;
    }
  | { ok: false; message: string };

export function logoutRoutes(ctx: ServerContext): Router {
  const router = Router();

  const logout = async (req: Request, res: Response) => {
    const params = ((req.method === 'POST' ? req.body : req.query) ?? {}) as Params;
    const request = await parseLogoutRequest(ctx, params);
    if (!request.ok) return renderErrorPage(ctx, res, 400, request.message);
    const current = await currentSession(ctx, req);
    if (current) {
      const { session } = current;
      const browser = ensureBrowserValue(ctx, req, res);
      const confirmed =
        req.method === 'POST' &&
        params.confirm === 'yes' &&
        verifyBrowserTag(browser, logoutPurpose(session), params.csrf_token);
      // The spec's rule (§2): without a hint naming this session's user the user is asked, so that a
      // cross-site link cannot sign anybody out.
      if (!confirmed && !hintMatches(request.hint, session)) {
        return renderPage(ctx, res, 200, 'logout.html', {
          Confirm: true,
          LoggedOut: false,
          User: session.claims.email || session.claims.username,
          Client: request.client ? request.client.name || request.client.id : '',
          PostURL: issuerRoute(ctx, '/logout'),
          CSRFToken: browserTag(browser, logoutPurpose(session)),
          ClientID: request.client?.id ?? '',
          PostLogoutRedirectURI: request.redirectURI ?? '',
          State: request.state ?? '',
        });
      }
      await endSession(ctx, req, session.id, 'logout');
    }
    ctx.sessionCookies?.clear(res);
    if (request.redirectURI) {
      const target = new URL(request.redirectURI);
      if (request.state !== undefined) target.searchParams.set('state', request.state);
      return res.redirect(302, target.toString());
    }
    return renderPage(ctx, res, 200, 'logout.html', { Confirm: false, LoggedOut: true });
  };
  router.get('/logout', logout);
  router.post('/logout', logout);

  router.get('/', async (req, res) => {
    const current = await currentSession(ctx, req);
    if (!current) return renderPage(ctx, res, 200, 'home.html', { SignedIn: false });
    const { session } = current;
    const browser = ensureBrowserValue(ctx, req, res);
    const connector = (await ctx.connectors.list()).find((c) => c.id === session.connectorID);
    return renderPage(ctx, res, 200, 'home.html', {
      SignedIn: true,
      User: session.claims.username || session.claims.email,
      Email: session.claims.email,
      Groups: session.claims.groups,
      Connector: connector?.name ?? session.connectorID,
      AuthTime: session.authTime.toISOString(),
      PostURL: issuerRoute(ctx, '/logout'),
      CSRFToken: browserTag(browser, logoutPurpose(session)),
    });
  });

  return router;
}

/**
 * Ends a session everywhere (the record's deletion is what every replica sees) and tells the relying
 * parties that took part, in the background. Already ended: nothing to do.
 */
export async function endSession(
  ctx: ServerContext,
  req: Request,
  sessionID: string,
  why: 'logout' | 'replaced',
): Promise<void> {
  const ended = ctx.sessions ? await ctx.sessions.end(sessionID) : undefined;
  if (!ended) return;
  req.log.info(
    {
      audit: 'session_ended',
      session: ended.id,
      user: ended.claims.userID,
      connector: ended.connectorID,
      why,
    },
    'session ended',
  );
  await notifyRelyingParties(ctx, ended);
}

/** Back-channel logout to every client recorded in the session that still exists. */
export async function notifyRelyingParties(ctx: ServerContext, ended: Session): Promise<void> {
  if (!ctx.backchannel) return;
  const clients = await Promise.all(Object.keys(ended.clients).map((id) => findClient(ctx.storage, id)));
  ctx.backchannel.notify(
    ended,
    clients.filter((c): c is Client => c !== undefined),
  );
}

function logoutPurpose(session: Pick<Session, 'id'>): string {
  return `logout:${session.id}`;
}

/** The hint names this session: its `sid`, or (a hint from before sessions) the same user. */
function hintMatches(hint: IdTokenHint | undefined, session: Session): boolean {
  if (!hint) return false;
  if (hint.sid !== undefined) return hint.sid === session.id;
  return hint.sub === encodeSubject(session.claims.userID, session.connectorID);
}

/**
 * RP-Initiated Logout §2–§3: every parameter at most once; `id_token_hint` an ID token of this issuer
 * (expired is fine); `client_id` consistent with the hint; `post_logout_redirect_uri` only for a known
 * client and only when registered for it, exactly. Anything else is a page, never a redirect.
 */
async function parseLogoutRequest(ctx: ServerContext, params: Params): Promise<LogoutRequest> {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string') return { ok: false, message: `Duplicate parameter "${name}".` };
    if (value.length > 16_384) return { ok: false, message: `Parameter "${name}" is too long.` };
  }
  const str = (name: string) => {
    const v = params[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  // A hint that does not verify (not ours, or signed with a key since dropped) counts as none: the user is
  // asked to confirm, and it names no client for a post-logout redirect.
  const rawHint = str('id_token_hint');
  const hint = rawHint !== undefined ? await ctx.verifier.verifyIdTokenHint(rawHint) : undefined;
  const clientID = str('client_id');
  if (clientID && hint && hint.clientID !== clientID) {
    return { ok: false, message: 'The id_token_hint was issued to another application than client_id.' };
  }
  const id = clientID ?? hint?.clientID;
  const client = id !== undefined ? await findClient(ctx.storage, id) : undefined;
  if (id !== undefined && !client) return { ok: false, message: `Unknown client "${id}".` };
  const redirectURI = str('post_logout_redirect_uri');
  const state = str('state');
  if (state !== undefined && Buffer.byteLength(state) > MAX_STATE_BYTES) {
    return { ok: false, message: `state must be at most ${MAX_STATE_BYTES} bytes.` };
  }
  if (redirectURI !== undefined) {
    if (!client) {
      return {
        ok: false,
        message: 'A post_logout_redirect_uri needs client_id or id_token_hint to say whose it is.',
      };
    }
    if (!isExactPostLogoutRedirectURI(client, redirectURI)) {
      return { ok: false, message: `Unregistered post_logout_redirect_uri "${redirectURI}".` };
    }
  }
  return {
    ok: true,
    ...(hint ? { hint } : {}),
    ...(client ? { client } : {}),
    ...(redirectURI !== undefined ? { redirectURI } : {}),
    ...(state !== undefined ? { state } : {}),
  };
}
