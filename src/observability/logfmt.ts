/**
 * logfmt, as Go's log/slog TextHandler writes it and as Loki's `| logfmt` and Vector's `parse_logfmt` read
 * it: `time=… level=INFO msg="…" key=value`, one record per line.
 *
 * Written here, not taken from npm: the `logfmt` package (and pino-logfmt, built on it) leaves newlines
 * unescaped — a stack trace or a user-supplied value would split a record or forge the next one — and prints
 * nested objects as "[object Object]". Encoding is the whole job and fits in this file.
 */

/** The fields every record starts with, in slog's order. */
const LEADING = ['time', 'level', 'msg'];

/** One log record (a decoded JSON line) as one logfmt line, without the trailing newline. */
export function formatLogfmt(record: Record<string, unknown>): string {
  const pairs: string[] = [];
  for (const key of LEADING) if (key in record) pairs.push(pair(key, record[key]));
  for (const [key, value] of Object.entries(record)) {
    if (!LEADING.includes(key)) flatten(key, value, pairs);
  }
  return pairs.join(' ');
}

// Nested objects become dotted keys (slog's groups: `err.message=…`); arrays stay one JSON value, since their
// indices are not names anyone queries by.
function flatten(key: string, value: unknown, pairs: string[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) pairs.push(pair(key, '{}'));
    for (const [k, v] of entries) flatten(`${key}.${k}`, v, pairs);
    return;
  }
  pairs.push(pair(key, value));
}

function pair(key: string, value: unknown): string {
  return `${logfmtKey(key)}=${logfmtValue(value)}`;
}

/** A key is a bare word in every logfmt reader: anything else (space, `=`, `"`, control) becomes `_`. */
function logfmtKey(key: string): string {
  const bare = key.replace(/[^\p{L}\p{N}_.\-/:@]/gu, '_');
  return bare === '' ? '_' : bare;
}

function logfmtValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return needsQuoting(text) ? JSON.stringify(text) : text;
}

/** slog's rule: quote an empty value, and any with a space, `=`, `"`, `\` or a non-printing character. */
function needsQuoting(text: string): boolean {
  return text === '' || /[\s="\\\p{C}]/u.test(text);
}
