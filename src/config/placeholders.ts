// Placeholders: values a shipped configuration leaves for the operator to fill in (a client secret, a
// password hash). They carry a recognisable marker, and a file that still holds one does not load — so
// `latchkey serve --check` and `latchkey serve` both refuse it, naming the key — instead of running with a
// credential everyone who read the manifests knows.
//
// The marker is looked for in every string value of the file as written, wherever it is (known keys,
// unknown keys, lists), before $VAR expansion: a placeholder is something the operator has to edit in the
// file itself. Keys are not searched: a key is never a credential.

import { formatPath, quote, type PathSegment } from './problems.js';
import { isPlainObject } from './normalize.js';

/** What a placeholder looks like: `REPLACE-ME`, in any case, with `-` or `_`, anywhere in a value. */
export const PLACEHOLDER_MARKER = /REPLACE[-_]ME/i;

/** The paths of every string value holding the marker, in file order. */
export function findPlaceholders(value: unknown, path: PathSegment[] = []): PathSegment[][] {
  if (typeof value === 'string') return PLACEHOLDER_MARKER.test(value) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findPlaceholders(v, [...path, i]));
  if (isPlainObject(value)) {
    return Object.entries(value).flatMap(([k, v]) => findPlaceholders(v, [...path, k]));
  }
  return [];
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v = root;
  for (const seg of path) v = (v as Record<PathSegment, unknown>)[seg];
  return v;
}

/**
 * The problems of a file whose parsed YAML is `raw`: one "replace this placeholder" per placeholder, then
 * the loader's other `problems` except those about a value that is a placeholder (a placeholder hash is
 * also no bcrypt hash; saying so would only hide what to do).
 */
export function withPlaceholderProblems(raw: unknown, problems: readonly string[]): string[] {
  const paths = findPlaceholders(raw);
  if (paths.length === 0) return [...problems];
  const shown = paths.map(formatPath);
  const aboutPlaceholder = (p: string): boolean =>
    shown.some((s) => p.startsWith(`${s}:`) || p.startsWith(`${s}.`) || p.startsWith(`${s}[`));
  return [
    ...paths.map(
      (path, i) =>
        `${shown[i]}: replace this placeholder (${quote(String(valueAt(raw, path)))}) with your own value`,
    ),
    ...problems.filter((p) => !aboutPlaceholder(p)),
  ];
}
