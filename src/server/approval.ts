import { Router, type Request, type Response } from 'express';
import { CROSS_CLIENT_PREFIX } from '../oauth/scopes.js';
import { OAuthError } from '../oauth/errors.js';
import { LoginAlreadyFinishedError, type SessionApproval } from '../oauth/login.js';
import { ApprovalAlreadyAnsweredError, SessionEndedError } from '../oauth/sessions.js';
import { browserTag, verifyBrowserTag } from '../oauth/browser-binding.js';
import { browserValue, findClient, issuerRoute, type ServerContext } from './context.js';
import { renderErrorPage, renderPage } from './pages.js';
import { sendOutcome, unsealSessionApproval } from './authorize.js';
import { deviceCallbackURL } from './device.js';

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  offline_access: 'Have offline access',
  profile: 'View basic profile information',
  email: 'View your email address',
  groups: 'View your groups',
};

const EXPIRED =
  'This approval request has expired or belongs to another browser. Go back to the application and sign in again.';

const ALREADY_ANSWERED =
  'This request was already answered, perhaps in another tab. If the application did not continue, go back to it and sign in again.';

/**
 * The consent step (reference §1 /approval): GET shows approval.html, POST approves or declines. Both need
 * the tag only the browser that logged in can compute, so a leaked link or a cross-site post does nothing.
 */
export function approvalRoutes(ctx: ServerContext): Router {
  const router = Router();

  router.get('/approval', async (req, res) => {
    if (isSealed(req.query.req)) {
      const browser = browserValue(req);
      const approval = await liveSessionApproval(ctx, browser, req.query.req);
      if (!approval || !browser) return renderErrorPage(ctx, res, 400, EXPIRED);
      const session = await ctx.sessions?.find(approval.sessionID);
      const client = await findClient(ctx.storage, approval.pending.clientID);
      if (!session) return renderErrorPage(ctx, res, 400, EXPIRED);
      if (!client) return renderErrorPage(ctx, res, 400, 'The application no longer exists.');
      return renderPage(ctx, res, 200, 'approval.html', {
        User: session.claims.username || session.claims.email,
        Client: client.name || client.id,
        ClientLogoURL: client.logoURL,
        Scopes: describeScopes(approval.pending.scopes),
        AuthReqID: String(req.query.req),
        CSRFToken: browserTag(browser, sessionApprovalPurpose(approval)),
        PostURL: issuerRoute(ctx, '/approval'),
      });
    }
    const request = await ctx.logins.pendingApproval(
      String(req.query.req ?? ''),
      browserValue(req),
      req.query.hmac,
    );
    if (!request) return renderErrorPage(ctx, res, 400, EXPIRED);
    const client = await findClient(ctx.storage, request.clientID);
    if (!client) return renderErrorPage(ctx, res, 400, 'The application no longer exists.');
    await renderPage(ctx, res, 200, 'approval.html', {
      User: request.claims.username || request.claims.email,
      Client: client.name || client.id,
      ClientLogoURL: client.logoURL,
      Scopes: describeScopes(request.scopes),
      AuthReqID: request.id,
      CSRFToken: String(req.query.hmac),
      PostURL: issuerRoute(ctx, '/approval'),
    });
  });

  router.post('/approval', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (isSealed(body.req)) return answerSessionApproval(ctx, req, res, body);
    const request = await ctx.logins.pendingApproval(
      String(body.req ?? ''),
      browserValue(req),
      body.csrf_token,
    );
    if (!request) return renderErrorPage(ctx, res, 403, EXPIRED);
    try {
      if (body.approval === 'approve') {
        const outcome = await ctx.logins.approve(request);
        req.log.info(
          { client: request.clientID, connector: request.connectorID, user: request.claims.userID },
          'approved',
        );
        return await sendOutcome(ctx, res, outcome, 303);
      }
      if (request.redirectURI === deviceCallbackURL(ctx)) {
        // A device login has no redirect to carry the refusal: the device learns it at its next poll.
        await ctx.logins.discard(request);
        req.log.info({ client: request.clientID, user: request.claims.userID }, 'approval rejected');
        const device = await ctx.device.request(request.state);
        if (device) await ctx.device.deny(device);
        return await renderErrorPage(ctx, res, 403, 'You denied the device access.');
      }
      const outcome = await ctx.logins.reject(request);
      req.log.info({ client: request.clientID, user: request.claims.userID }, 'approval rejected');
      return await sendOutcome(ctx, res, outcome, 303);
    } catch (e) {
      // The same approval answered twice (a double click, two tabs, a replay on another replica): the first
      // answer stands, and this one says so instead of issuing a second code.
      if (e instanceof LoginAlreadyFinishedError) return renderErrorPage(ctx, res, 409, ALREADY_ANSWERED);
      // An out-of-band client has no redirect to carry the refusal: tell the user instead.
      if (e instanceof OAuthError) return renderErrorPage(ctx, res, 403, e.description);
      throw e;
    }
  });

  return router;
}

/** Session approvals travel sealed (a compact JWE); AuthRequest approvals by ID. */
function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.includes('.');
}

function sessionApprovalPurpose(approval: SessionApproval): string {
  return `session-approval:${approval.id}`;
}

async function liveSessionApproval(
  ctx: ServerContext,
  browser: string | undefined,
  sealed: unknown,
): Promise<SessionApproval | undefined> {
  const approval = await unsealSessionApproval(ctx, browser, sealed);
  return approval && ctx.logins.isFresh(approval) ? approval : undefined;
}

/**
 * The answer to an approval asked within a browser session: the CSRF token only this browser can compute,
 * then one session write that records the answer and is its single-use step (BrowserSessions).
 */
async function answerSessionApproval(
  ctx: ServerContext,
  req: Request,
  res: Response,
  body: Record<string, unknown>,
): Promise<void> {
  const browser = browserValue(req);
  const approval = await liveSessionApproval(ctx, browser, body.req);
  if (
    !approval ||
    !browser ||
    !verifyBrowserTag(browser, sessionApprovalPurpose(approval), body.csrf_token)
  ) {
    return renderErrorPage(ctx, res, 403, EXPIRED);
  }
  const { pending } = approval;
  const client = await findClient(ctx.storage, pending.clientID);
  if (!client) return renderErrorPage(ctx, res, 400, 'The application no longer exists.');
  const approved = body.approval === 'approve';
  try {
    const outcome = await ctx.logins.answerInSession(approval, client, approved);
    req.log.info(
      { client: client.id, session: approval.sessionID },
      approved ? 'approved' : 'approval rejected',
    );
    if (!approved && pending.redirectURI === deviceCallbackURL(ctx)) {
      // A device login has no redirect to carry the refusal: the device learns it at its next poll.
      const device = await ctx.device.request(pending.state);
      if (device) await ctx.device.deny(device);
      return await renderErrorPage(ctx, res, 403, 'You denied the device access.');
    }
    return await sendOutcome(ctx, res, outcome, 303, browser);
  } catch (e) {
    if (e instanceof ApprovalAlreadyAnsweredError) return renderErrorPage(ctx, res, 409, ALREADY_ANSWERED);
    if (e instanceof SessionEndedError) return renderErrorPage(ctx, res, 400, EXPIRED);
    // An out-of-band client has no redirect to carry the refusal: tell the user instead.
    if (e instanceof OAuthError) return renderErrorPage(ctx, res, 403, e.description);
    throw e;
  }
}

function describeScopes(scopes: string[]): string[] {
  const out: string[] = [];
  for (const s of scopes) {
    const known = SCOPE_DESCRIPTIONS[s];
    if (known) out.push(known);
    else if (s.startsWith(CROSS_CLIENT_PREFIX))
      out.push(`Sign you in to "${s.slice(CROSS_CLIENT_PREFIX.length)}"`);
  }
  return out;
}
