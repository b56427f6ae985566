import { AndFilter, EqualityFilter, ExtensibleFilter, FilterParser, OrFilter, type Filter } from 'ldapts';
import { ConnectorConfigError } from '../config-keys.js';

// Search filters. What the user types never passes through filter *text*: it becomes the value of an
// EqualityFilter (or ExtensibleFilter) object, which goes on the wire as a raw BER octet string. So it is
// escaped exactly once — by RFC 4515's rules, in toString(), only for the logs — and `o'brien`, `a*b`,
// `x(y)` or `back\slash` match themselves while `*)(uid=*` matches nothing. (Dex escapes twice, so such
// names never match.) Only the administrator's `filter` settings are parsed from text, once, at startup.

/** How an attribute setting matches a value: `member`, or an extensible match like `member:1.2.840…:`. */
export type AttributeSpec =
  | { kind: 'equality'; attribute: string; text: string }
  | { kind: 'extensible'; attribute: string; dnAttributes: boolean; rule: string; text: string };

const DESCRIPTOR = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;
const RULE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/;

/**
 * Parses an attribute setting. `attr`, or the left side of an RFC 4515 extensible match ending in ":"
 * (`attr:rule:`, `attr:dn:rule:`, `attr:dn:`, `:rule:`), as Dex configs write AD's matching-rule-in-chain:
 * `member:1.2.840.113556.1.4.1941:`.
 */
export function parseAttributeSpec(text: string, path: string): AttributeSpec {
  const bad = (why: string) => new ConnectorConfigError(path, `${why}, got ${JSON.stringify(text)}`);
  if (!text.endsWith(':')) {
    if (!DESCRIPTOR.test(text)) throw bad('expected an attribute name');
    return { kind: 'equality', attribute: text, text };
  }
  const parts = text.slice(0, -1).split(':');
  const attribute = parts.shift() ?? '';
  let dnAttributes = false;
  if (parts[0]?.toLowerCase() === 'dn') {
    dnAttributes = true;
    parts.shift();
  }
  const rule = parts.shift() ?? '';
  if (
    parts.length > 0 ||
    (attribute !== '' && !DESCRIPTOR.test(attribute)) ||
    (rule !== '' && !RULE.test(rule)) ||
    (attribute === '' && rule === '')
  ) {
    throw bad('expected an attribute name or an extensible match such as "member:1.2.840.113556.1.4.1941:"');
  }
  return { kind: 'extensible', attribute, dnAttributes, rule, text };
}

/** `(spec=value)` as a filter object; `value` is taken literally (no wildcards, no escapes). */
export function assertion(spec: AttributeSpec, value: string): Filter {
  if (spec.kind === 'equality') return new EqualityFilter({ attribute: spec.attribute, value });
  return new ExtensibleFilter({
    matchType: spec.attribute,
    dnAttributes: spec.dnAttributes,
    rule: spec.rule,
    value,
  });
}

/** `(&<configured>(…))`, or the match alone when nothing is configured. */
export function within(configured: Filter | undefined, match: Filter): Filter {
  return configured === undefined ? match : new AndFilter({ filters: [configured, match] });
}

/** The user search: `(&<filter>(|(a1=<username>)(a2=<username>)…))`. */
export function userFilter(
  search: { filter?: Filter; username: readonly AttributeSpec[] },
  username: string,
): Filter {
  const matches = search.username.map((spec) => assertion(spec, username));
  return within(search.filter, matches.length === 1 ? matches[0]! : new OrFilter({ filters: matches }));
}

/** A group search: `(&<filter>(<groupAttr>=<value>))`. */
export function groupFilter(search: { filter?: Filter }, spec: AttributeSpec, value: string): Filter {
  return within(search.filter, assertion(spec, value));
}

/** Parses an administrator's filter (`userSearch.filter`, `groupSearch.filter`); throws a config error. */
export function parseConfiguredFilter(text: string, path: string): Filter {
  const trimmed = text.trim();
  try {
    checkParentheses(trimmed);
    return FilterParser.parseString(utf8Escapes(trimmed));
  } catch (e) {
    throw new ConnectorConfigError(
      path,
      `not a valid LDAP filter (RFC 4515): ${(e as Error).message.split('. Full string')[0]}`,
    );
  }
}

/**
 * ldapts' parser accepts a filter whose closing parentheses are missing; a filter value cannot hold a bare
 * parenthesis (RFC 4515 escapes it), so counting them is enough. One filter, not a sequence of them.
 */
function checkParentheses(filter: string): void {
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (depth < 0) throw new Error(`unbalanced parentheses: a ")" too many at character ${i + 1}`);
    if (depth === 0 && i < filter.length - 1 && filter.startsWith('(')) {
      throw new Error(`unexpected text after the filter's closing parenthesis at character ${i + 1}`);
    }
  }
  if (depth > 0) throw new Error(`unbalanced parentheses: ${depth} ")" missing`);
}

/**
 * RFC 4515 writes non-ASCII values as escaped UTF-8 bytes (`\c3\a9` for é), which ldapts would decode byte by
 * byte into Latin-1; such runs become the characters they encode before parsing. ASCII escapes (`\2a`,
 * `\28`…) stay escapes.
 */
function utf8Escapes(filter: string): string {
  return filter.replace(/(?:\\[89a-fA-F][0-9a-fA-F])+/g, (run) => {
    const bytes = Buffer.from(run.replaceAll('\\', ''), 'hex');
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return run;
    }
  });
}
