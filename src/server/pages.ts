import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import type { TemplateName } from '../frontend/frontend.js';
import { OAuthError } from '../oauth/errors.js';
import type { ServerContext } from './context.js';
import { sendOAuthError } from './token/index.js';

/** Renders a page template; every page is uncacheable (they carry per-browser tokens). */
export async function renderPage(
  ctx: ServerContext,
  res: Response,
  status: number,
  template: TemplateName,
  data: Record<string, unknown>,
): Promise<void> {
  const html = await ctx.frontend.render(template, { ReqPath: res.req.originalUrl.split('?')[0], ...data });
  res.status(status).setHeader('Cache-Control', 'no-store').type('html').send(html);
}

/** The HTML error page: what a browser sees whenever it must not be redirected. */
export async function renderErrorPage(
  ctx: ServerContext,
  res: Response,
  status: number,
  message: string,
): Promise<void> {
  await renderPage(ctx, res, status, 'error.html', {
    ErrType: STATUS_CODES[status] ?? 'Error',
    ErrMsg: message,
  });
}

/** Endpoints only programs call (the token family, the device's code request): their errors are JSON. */
function answersInJSON(path: string): boolean {
  return /\/token(?:\/|$)|\/device\/code$/.test(path);
}

/**
 * A client error no route answered itself (an unknown path or method, a body the parser refused): an OAuth
 * JSON error (RFC 6749 §5.2) where programs call, the HTML error page where browsers do.
 */
export async function sendClientError(
  ctx: ServerContext,
  req: Request,
  res: Response,
  status: number,
  message: string,
): Promise<void> {
  if (answersInJSON(req.path)) return sendOAuthError(res, new OAuthError('invalid_request', message, status));
  await renderErrorPage(ctx, res, status, message);
}
