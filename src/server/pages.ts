import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';
import type { TemplateName } from '../frontend/frontend.js';
import type { ServerContext } from './context.js';

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
