import express, { type Request, type RequestHandler } from 'express';
import { OAuthError } from '../oauth/errors.js';

/**
 * application/x-www-form-urlencoded bodies for the OAuth endpoints: small, flat (node:querystring), so a
 * repeated parameter arrives as an array and can be refused.
 */
export const formBody: RequestHandler = express.urlencoded({
  extended: false,
  limit: '64kb',
  parameterLimit: 100,
});

/** The form's parameters as single strings; a parameter sent twice is invalid_request (RFC 6749 §3.1, §3.2). */
export function singleParams(req: Request): Record<string, string> {
  if (!req.is('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'The request body must be application/x-www-form-urlencoded.');
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') throw new OAuthError('invalid_request', `Duplicate parameter "${name}".`);
    out[name] = value;
  }
  return out;
}
