import type { ListOptions } from './storage.js';

// Paging shared by the back ends and the static overlay. A continue token names the last key served, so
// paging in key order stays correct while entities come and go between pages.

export const DEFAULT_PAGE_SIZE = 500;

/** The page size to serve: the caller's limit, capped at (and defaulting to) DEFAULT_PAGE_SIZE. */
export function pageSize(opts: ListOptions | undefined): number {
  const limit = opts?.limit;
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0) return DEFAULT_PAGE_SIZE;
  return Math.min(Math.floor(limit), DEFAULT_PAGE_SIZE);
}

export function encodeContinue(lastKey: string): string {
  return Buffer.from(JSON.stringify({ after: lastKey }), 'utf8').toString('base64url');
}

/** The last key served before, or undefined for a first page. A token not made here is a caller bug. */
export function continueAfter(opts: ListOptions | undefined): string | undefined {
  if (opts?.continue === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(opts.continue, 'base64url').toString('utf8')) as {
      after?: unknown;
    };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through to the error below
  }
  throw new TypeError('invalid continue token');
}
