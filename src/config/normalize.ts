// Puts the parsed YAML in the shape the schema expects, the way Dex's decoder (Go encoding/json) sees it:
//  * keys match the schema's field names case-insensitively (an exact match first), and are renamed to them;
//    a field given twice under different spellings is a problem; keys the schema does not know are warnings;
//  * null means "not set" (Go leaves the zero value);
//  * a number written where a string is expected becomes the text it was written as; in string maps
//    (frontend.extra, web.headers) booleans become "true"/"false" too;
//  * string values inside storage.config, connectors[].config and signer.config get $VAR expansion.
// Zod's internal definitions (`_zod.def`) are read to walk the schema; they are part of zod's core API.

import type { z } from 'zod';
import { expandEnv, type Lookup } from './expand-env.js';
import type { Findings, PathSegment } from './problems.js';
import { NumberLiteral } from './yaml.js';

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  values?: unknown[];
  entries?: Record<string, unknown>;
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

/** The schema that decides the shape of a value: through optional/default/pipe/lazy wrappers. */
function unwrap(schema: z.ZodType | undefined): Def | undefined {
  let s = schema;
  for (let i = 0; s && i < 32; i++) {
    const d = def(s);
    if (WRAPPERS.has(d.type)) s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else return d;
  }
  return undefined;
}

function isStringLike(d: Def | undefined): boolean {
  if (!d) return false;
  if (d.type === 'string' || d.type === 'template_literal') return true;
  if (d.type === 'enum') return Object.values(d.entries ?? {}).every((v) => typeof v === 'string');
  if (d.type === 'literal') return (d.values ?? []).every((v) => typeof v === 'string');
  return false;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof NumberLiteral);
}

/** Assigns without invoking setters (a YAML key "__proto__" is just a key). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export interface NormalizeOptions {
  findings: Findings;
  /** Undefined: no $VAR expansion (DEX_EXPAND_ENV=false). */
  expand?: Lookup;
  /** Whether string values below this path get $VAR expansion. */
  expandsBelow: (path: readonly PathSegment[]) => boolean;
}

interface Mode {
  expanding: boolean;
  /** Inside a map of strings: booleans become strings too (ghodss/yaml does so for string targets). */
  stringMapValue: boolean;
}

export function normalize(value: unknown, schema: z.ZodType, opts: NormalizeOptions): unknown {
  return walk(value, unwrap(schema), [], opts, { expanding: false, stringMapValue: false });
}

function childMode(path: readonly PathSegment[], opts: NormalizeOptions, mode: Mode): Mode {
  return {
    expanding: mode.expanding || (opts.expand !== undefined && opts.expandsBelow(path)),
    stringMapValue: false,
  };
}

function walk(
  value: unknown,
  d: Def | undefined,
  path: PathSegment[],
  opts: NormalizeOptions,
  mode: Mode,
): unknown {
  if (value instanceof NumberLiteral) return isStringLike(d) ? value.source : value.value;
  if (typeof value === 'boolean') return mode.stringMapValue && isStringLike(d) ? String(value) : value;
  if (typeof value === 'string') return mode.expanding && opts.expand ? expandEnv(value, opts.expand) : value;
  if (Array.isArray(value)) {
    const element = d?.type === 'array' ? unwrap(d.element) : undefined;
    return value.map((v, i) => {
      const p = [...path, i];
      return walk(v, element, p, opts, childMode(p, opts, mode));
    });
  }
  if (!isPlainObject(value)) return value;

  if (d?.type === 'object' && d.shape) return walkObject(value, d.shape, path, opts, mode);
  if (d?.type === 'union' && d.discriminator && d.options) return walkUnion(value, d, path, opts, mode);

  // A record (string map) or an unknown subtree: keys as written.
  const valueDef = d?.type === 'record' ? unwrap(d.valueType) : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    const p = [...path, k];
    setOwn(
      out,
      k,
      walk(v, valueDef, p, opts, { ...childMode(p, opts, mode), stringMapValue: isStringLike(valueDef) }),
    );
  }
  return out;
}

/** Finds the schema field a YAML key stands for: exact, else case-insensitive (Go encoding/json). */
function matchKey(key: string, fields: readonly string[]): string | undefined {
  if (fields.includes(key)) return key;
  const lower = key.toLowerCase();
  return fields.find((f) => f.toLowerCase() === lower);
}

function walkObject(
  value: Record<string, unknown>,
  shape: Record<string, z.ZodType>,
  path: PathSegment[],
  opts: NormalizeOptions,
  mode: Mode,
): Record<string, unknown> {
  const fields = Object.keys(shape);
  const out: Record<string, unknown> = {};
  const spelledAs = new Map<string, string>();
  for (const [k, v] of Object.entries(value)) {
    const field = matchKey(k, fields);
    if (field === undefined) {
      opts.findings.warn([...path, k], 'unknown key (ignored)');
      continue;
    }
    const earlier = spelledAs.get(field);
    if (earlier !== undefined) {
      opts.findings.problem(
        [...path, field],
        `given twice (as ${JSON.stringify(earlier)} and ${JSON.stringify(k)})`,
      );
      continue;
    }
    spelledAs.set(field, k);
    if (v === null || v === undefined) continue;
    const p = [...path, field];
    out[field] = walk(v, unwrap(shape[field]), p, opts, childMode(p, opts, mode));
  }
  return out;
}

function walkUnion(
  value: Record<string, unknown>,
  d: Def,
  path: PathSegment[],
  opts: NormalizeOptions,
  mode: Mode,
): Record<string, unknown> {
  const disc = d.discriminator!;
  const discKey = Object.keys(value).find((k) => matchKey(k, [disc]) !== undefined);
  let discValue = discKey === undefined ? undefined : value[discKey];
  if (discValue instanceof NumberLiteral) discValue = discValue.source;
  for (const option of d.options ?? []) {
    const od = unwrap(option);
    const literal = od?.shape?.[disc] ? unwrap(od.shape[disc]) : undefined;
    if (od?.shape && literal?.values?.includes(discValue))
      return walkObject(value, od.shape, path, opts, mode);
  }
  // No branch matches (the type is missing or refused): the schema reports that; only the discriminator's key
  // is put right so that the report can find it, the rest is kept without warnings.
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    const p = [...path, k];
    setOwn(out, k === discKey ? disc : k, walk(v, undefined, p, opts, childMode(p, opts, mode)));
  }
  return out;
}
