// How configuration problems are worded: one line each, `<yaml.path>: <what was expected>`.

import type { z } from 'zod';

export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `staticClients[0].redirectURIs`, `web.headers["X.Y"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export class ConfigError extends Error {
  /** One line per problem, each `<yaml.path>: <what was expected>`. */
  readonly problems: string[];
  constructor(problems: string[], source?: string) {
    const head = source ? `invalid configuration in ${source}` : 'invalid configuration';
    super(`${head}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Problems and warnings gathered while loading one file. */
export class Findings {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  problem(path: readonly PathSegment[], message: string): void {
    this.problems.push(path.length === 0 ? message : `${formatPath(path)}: ${message}`);
  }
  warn(path: readonly PathSegment[], message: string): void {
    this.warnings.push(path.length === 0 ? message : `${formatPath(path)}: ${message}`);
  }
}

const MAX_SHOWN = 80;

export function quote(s: string): string {
  const q = JSON.stringify(s);
  return q.length > MAX_SHOWN ? `${q.slice(0, MAX_SHOWN - 4)}…"` : q;
}

/** A short description of a value the user wrote: `"abc"`, `a number (5)`, `true`, `a list`, `a mapping`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number') return `a number (${v})`;
  if (typeof v === 'boolean') return `a boolean (${v})`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  boolean: 'true or false',
  number: 'a number',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
};

/** The wording for zod issues that the schema itself does not word. */
export const zodErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'never') return 'not supported';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => (typeof v === 'string' ? quote(v) : String(v))).join(', ')}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator !== undefined) {
        const input = issue.input as Record<string, unknown> | undefined;
        const got = input?.[issue.discriminator];
        if (got === undefined) return 'required';
        const options = (issue as { options?: unknown[] }).options ?? [];
        if (typeof got !== 'string') {
          return `expected one of ${options.map(String).join(', ')}, got ${describeValue(got)}`;
        }
        return `${quote(got)} is not supported by Latchkey (supported: ${options.map(String).join(', ')})`;
      }
      return undefined;
    case 'invalid_key':
    case 'invalid_element':
      return issue.issues[0]?.message;
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1) return 'must not be empty';
      if (issue.origin === 'array' && issue.minimum === 1) return 'must not be an empty list';
      return undefined;
    default:
      return undefined;
  }
};
