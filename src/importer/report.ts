import type { ShortLivedCounts } from './dex-model.js';
import type { Outcome } from './write.js';

// What an import did (or, in a dry run, would do): counts per kind, the conflicts, what was skipped and
// why, failures. It names objects by ID or email only: never a secret, hash, key or connector config.

export const KINDS = ['connectors', 'clients', 'passwords', 'signingKeys', 'refreshTokens'] as const;
export type KindName = (typeof KINDS)[number];

const LABELS: Record<KindName, string> = {
  connectors: 'connectors',
  clients: 'clients',
  passwords: 'passwords',
  signingKeys: 'signing keys',
  refreshTokens: 'refresh tokens',
};

export interface KindTally {
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  conflicts: number;
  skipped: number;
  failed: number;
}

export interface Finding {
  kind: KindName;
  /** The object's ID (an email for passwords, a kid for keys). */
  id: string;
  detail: string;
}

export interface ImportReport {
  dryRun: boolean;
  overwrite: boolean;
  source: string;
  target: string;
  kinds: Record<KindName, KindTally>;
  conflicts: Finding[];
  skipped: Finding[];
  failures: Finding[];
  warnings: Finding[];
  notes: string[];
  shortLived: ShortLivedCounts;
  /** Storage calls repeated because storage was busy (429, 5xx, timeouts). */
  retries: number;
  elapsedMs: number;
  /** Objects created or updated (that would be, in a dry run). */
  changes: number;
}

export const emptyTally = (): KindTally => ({
  read: 0,
  created: 0,
  updated: 0,
  unchanged: 0,
  conflicts: 0,
  skipped: 0,
  failed: 0,
});

export function newReport(dryRun: boolean, overwrite: boolean, source: string, target: string): ImportReport {
  return {
    dryRun,
    overwrite,
    source,
    target,
    kinds: Object.fromEntries(KINDS.map((k) => [k, emptyTally()])) as Record<KindName, KindTally>,
    conflicts: [],
    skipped: [],
    failures: [],
    warnings: [],
    notes: [],
    shortLived: { authRequests: 0, authCodes: 0, deviceRequests: 0, deviceTokens: 0 },
    retries: 0,
    elapsedMs: 0,
    changes: 0,
  };
}

/** Counts one object's outcome. */
export function record(report: ImportReport, kind: KindName, id: string, o: Outcome): void {
  const t = report.kinds[kind];
  switch (o.kind) {
    case 'created':
      t.created++;
      report.changes++;
      return;
    case 'updated':
      t.updated++;
      report.changes++;
      return;
    case 'overwritten':
      t.updated++;
      report.changes++;
      report.conflicts.push({ kind, id, detail: `differs in ${o.fields.join(', ')}; overwritten` });
      return;
    case 'unchanged':
      t.unchanged++;
      return;
    case 'conflict':
      t.conflicts++;
      report.conflicts.push({
        kind,
        id,
        detail: `differs in ${o.fields.join(', ')}${o.reason ? ` (${o.reason})` : ''}; skipped`,
      });
      return;
    case 'failed':
      t.failed++;
      report.failures.push({ kind, id, detail: o.message });
      return;
  }
}

export function skip(report: ImportReport, kind: KindName, id: string, why: string): void {
  report.kinds[kind].skipped++;
  report.skipped.push({ kind, id, detail: why });
}

/** One progress line for a kind (stderr, while a large kind is imported). */
export function progressLine(report: ImportReport, kind: KindName, total?: number): string {
  const t = report.kinds[kind];
  const verb = report.dryRun ? 'would create' : 'created';
  const of = total !== undefined ? `/${total}` : '';
  return (
    `${LABELS[kind]}: ${t.read}${of} read, ${t.created} ${verb}, ${t.updated} updated, ` +
    `${t.unchanged} unchanged, ${t.conflicts} conflicts, ${t.skipped} skipped, ${t.failed} failed`
  );
}

/** At most this many findings of one kind are listed; the rest are counted. */
const LISTED = 20;

export function formatReport(r: ImportReport): string {
  const lines: string[] = [];
  lines.push(
    r.dryRun
      ? 'Dex import — DRY RUN: nothing was written. Run again with --apply to write.'
      : 'Dex import — applied.',
  );
  lines.push(`  from: ${r.source}`);
  lines.push(`  into: ${r.target}`);
  lines.push('');
  const head = [
    '',
    'read',
    r.dryRun ? 'create' : 'created',
    'updated',
    'unchanged',
    'conflicts',
    'skipped',
    'failed',
  ];
  const rows = KINDS.map((k) => {
    const t = r.kinds[k];
    return [LABELS[k], t.read, t.created, t.updated, t.unchanged, t.conflicts, t.skipped, t.failed].map(
      String,
    );
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(`  ${fmt(head)}`);
  for (const row of rows) lines.push(`  ${fmt(row)}`);
  section(
    lines,
    r.overwrite
      ? 'Conflicts (overwritten because of --overwrite):'
      : 'Conflicts (skipped; --overwrite replaces them):',
    r.conflicts,
  );
  section(lines, 'Skipped:', r.skipped);
  section(lines, 'Warnings:', r.warnings);
  section(lines, 'Failed:', r.failures);
  const s = r.shortLived;
  lines.push('');
  lines.push(
    `Not imported (short-lived; logins in progress restart at Latchkey): ${s.authRequests} auth requests, ` +
      `${s.authCodes} auth codes, ${s.deviceRequests} device requests, ${s.deviceTokens} device tokens.`,
  );
  for (const n of r.notes) lines.push(n);
  if (r.retries > 0) lines.push(`Storage was busy: ${r.retries} requests were retried.`);
  lines.push('');
  lines.push(
    `${r.changes} ${r.changes === 1 ? 'change' : 'changes'}${r.dryRun ? ' would be made' : ''}, ` +
      `${r.conflicts.length} conflicts, ${r.failures.length} failures, in ${(r.elapsedMs / 1000).toFixed(1)} s.`,
  );
  return `${lines.join('\n')}\n`;
}

function section(lines: string[], title: string, findings: Finding[]): void {
  if (findings.length === 0) return;
  lines.push('');
  lines.push(title);
  for (const kind of KINDS) {
    const mine = findings.filter((f) => f.kind === kind);
    for (const f of mine.slice(0, LISTED))
      lines.push(`  ${LABELS[kind]} ${JSON.stringify(f.id)}: ${f.detail}`);
    if (mine.length > LISTED) lines.push(`  … and ${mine.length - LISTED} more ${LABELS[kind]}`);
  }
}
