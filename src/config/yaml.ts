// YAML text → plain JavaScript values, read the way Dex reads its file (go-yaml v2, i.e. YAML 1.1: `yes`/`on`
// are booleans, `<<` merge keys work, timestamps stay strings). Numbers are kept with their source text
// (NumberLiteral) so that a number written where Dex expects a string (`secret: 123456`, `tlsMinVersion: 1.2`,
// `userID: 0012`) becomes exactly the characters the user wrote, as Go's ghodss/yaml does.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode, Tags } from 'yaml';
import { formatPath, type PathSegment } from './problems.js';

/** A YAML number, with the text it was written as. */
export class NumberLiteral {
  constructor(
    readonly value: number,
    readonly source: string,
  ) {}
  toString(): string {
    return this.source;
  }
}

export interface YamlReadResult {
  /** Undefined when problems were found. */
  value?: unknown;
  problems: string[];
  warnings: string[];
}

/** Bounds the expansion of aliases ("billion laughs"). */
const MAX_ALIAS_COUNT = 1000;

const DROPPED_TAGS = new Set([
  'tag:yaml.org,2002:timestamp', // go-yaml v2 gives timestamps to interface{} targets as strings
  'tag:yaml.org,2002:binary',
  'tag:yaml.org,2002:omap',
  'tag:yaml.org,2002:pairs',
  'tag:yaml.org,2002:set',
]);

function goYamlTags(tags: Tags): Tags {
  return tags.filter((t) => {
    if (typeof t === 'string')
      return !['timestamp', 'binary', 'omap', 'pairs', 'set', 'intTime', 'floatTime'].includes(t);
    if (DROPPED_TAGS.has(t.tag)) return false;
    return !('format' in t && t.format === 'TIME'); // sexagesimal numbers (190:20:30): not in go-yaml v2
  });
}

export function readYaml(text: string): YamlReadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    customTags: goYamlTags,
    uniqueKeys: false, // duplicates are reported below, with their key path
    prettyErrors: false,
    lineCounter,
  });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const message = e.code === 'MULTIPLE_DOCS' ? 'expected a single YAML document' : e.message;
        return `YAML syntax error at ${at(e.pos[0])}: ${message}`;
      }),
      warnings: [],
    };
  }
  const warnings = doc.warnings.map((w) => `YAML warning at ${at(w.pos[0])}: ${w.message}`);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { problems: ['the config file is empty'], warnings };
  }

  const problems: string[] = [];
  markNumbersAndFindDuplicates(doc.contents, [], problems, at);
  if (problems.length > 0) return { problems, warnings };

  try {
    return { value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), problems, warnings };
  } catch (e) {
    return { problems: [`the config file could not be read: ${(e as Error).message}`], warnings };
  }
}

function scalarKeyText(key: unknown): string | undefined {
  if (isScalar(key)) return key.source ?? String(key.value);
  if (key === null || typeof key !== 'object') return String(key);
  return undefined;
}

function markNumbersAndFindDuplicates(
  node: YamlNode | null,
  path: PathSegment[],
  problems: string[],
  at: (offset: number) => string,
): void {
  if (node === null || isAlias(node)) return; // an alias's target is visited where it is defined
  if (isScalar(node)) {
    if (typeof node.value === 'number' || typeof node.value === 'bigint') {
      node.value = new NumberLiteral(Number(node.value), node.source ?? String(node.value));
    }
    return;
  }
  if (isSeq(node)) {
    node.items.forEach((item, i) =>
      markNumbersAndFindDuplicates(item as YamlNode, [...path, i], problems, at),
    );
    return;
  }
  if (isMap(node)) {
    const seen = new Map<string, number | undefined>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = scalarKeyText(pair.key);
      if (key !== undefined && key !== '<<') {
        const keyNode = pair.key as YamlNode | null;
        const offset = keyNode?.range?.[0];
        if (seen.has(key)) {
          const first = seen.get(key);
          const where = offset === undefined ? '' : ` at ${at(offset)}`;
          const firstWhere = first === undefined ? '' : ` (first at ${at(first)})`;
          problems.push(`${formatPath([...path, key])}: duplicate key${where}${firstWhere}`);
        } else {
          seen.set(key, offset);
        }
      }
      markNumbersAndFindDuplicates(pair.value as YamlNode | null, [...path, key ?? '?'], problems, at);
    }
  }
}
