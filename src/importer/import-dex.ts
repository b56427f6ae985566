import type { Config } from '../config/types.js';
import { loadConnectorTypes } from '../connectors/registry.js';
import type { SigningAlgorithm } from '../keys/generate.js';
import { RefreshTokens, type RefreshPolicy } from '../oauth/refresh.js';
import { isAlreadyExists, isNotFound } from '../storage/errors.js';
import type { KeySet, RefreshToken, Storage } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import { randomIds } from '../util/ids.js';
import { clientFromDex, compareClient } from './convert-clients.js';
import { compareConnector, connectorFromDex } from './convert-connectors.js';
import { keysFromDex, newSigningKeySet, withDexKeys } from './convert-keys.js';
import { comparePassword, passwordFromDex } from './convert-passwords.js';
import { compareRefreshToken, refreshTokenFromDex } from './convert-refresh-tokens.js';
import type { DexRecord, DexSource } from './dex-model.js';
import { Pacer, type PaceOptions } from './pool.js';
import { newReport, progressLine, record, skip, type ImportReport, type KindName } from './report.js';
import { writeEntity, type Target } from './write.js';

// `latchkey import dex`, the job: read a Dex installation's storage kind by kind, convert, and write into
// Latchkey's storage with conflict checks (write.ts). Connectors first (refresh tokens name them), then
// clients, passwords, signing keys, refresh tokens. Dex's storage is only read.

export interface ImportDexOptions {
  /** Write; false = dry run (read and compare only). */
  apply: boolean;
  /** Replace Latchkey objects that differ from Dex's instead of skipping them. */
  overwrite: boolean;
  pace: PaceOptions;
  clock: Clock;
  /** expiry.idTokens: how long a token signed by Dex's current key may live. */
  idTokenLifetimeMs: number;
  /** Latchkey's refresh-token policy (expiry.refreshTokens): imported tokens get its expiry. */
  refreshPolicy: RefreshPolicy;
  /** For a signing key set created by the import (when Latchkey never ran on this storage). */
  signer: { rotationPeriodMs: number; algorithm: SigningAlgorithm };
  /** Latchkey's storage, for the report. */
  target: string;
  /** Progress lines for large kinds. */
  progress?: (line: string) => void;
}

/** What Latchkey's config decides about imported objects: key publication, refresh-token lifetimes. */
export function settingsFromConfig(
  config: Config,
): Pick<ImportDexOptions, 'idTokenLifetimeMs' | 'refreshPolicy' | 'signer'> {
  const rt = config.expiry.refreshTokens;
  return {
    idTokenLifetimeMs: config.expiry.idTokens,
    refreshPolicy: {
      disableRotation: rt.disableRotation,
      reuseIntervalMs: rt.reuseInterval,
      ...(rt.validIfNotUsedFor ? { validIfNotUsedForMs: rt.validIfNotUsedFor } : {}),
      ...(rt.absoluteLifetime ? { absoluteLifetimeMs: rt.absoluteLifetime } : {}),
    },
    signer: { rotationPeriodMs: config.signer.keysRotationPeriod, algorithm: config.signer.algorithm },
  };
}

export async function importDex(
  source: DexSource,
  storage: Storage,
  opts: ImportDexOptions,
): Promise<ImportReport> {
  const started = Date.now();
  const report = newReport(!opts.apply, opts.overwrite, source.description, opts.target);
  const pacer = new Pacer(opts.pace);
  const write = { apply: opts.apply, overwrite: opts.overwrite, pacer };
  const progress = opts.progress ?? (() => {});

  // Connectors.
  const importedConnectors = new Set<string>();
  for await (const page of source.connectors()) {
    await pacer.each(page, async (r) => {
      const d = read(report, 'connectors', r);
      if (!d) return;
      await loadConnectorTypes([d.type]);
      const c = connectorFromDex(d);
      if ('skip' in c) return skip(report, 'connectors', d.id, c.skip);
      importedConnectors.add(d.id);
      const target: Target<typeof c.entity> = {
        get: (id) => storage.getConnector(id),
        create: (e) => storage.createConnector(e),
        update: (id, u) => storage.updateConnector(id, u),
        decide: (existing, incoming) => compareConnector(existing, incoming),
      };
      record(report, 'connectors', d.id, await writeEntity(target, d.id, c.entity, write));
    });
  }
  progress(progressLine(report, 'connectors'));

  // Clients.
  const importedClients = new Set<string>();
  for await (const page of source.clients()) {
    await pacer.each(page, async (r) => {
      const d = read(report, 'clients', r);
      if (!d) return;
      importedClients.add(d.id);
      const target: Target<ReturnType<typeof clientFromDex>> = {
        get: (id) => storage.getClient(id),
        create: (e) => storage.createClient(e),
        update: (id, u) => storage.updateClient(id, u),
        decide: (existing, incoming) => compareClient(existing, incoming, d.secret),
      };
      record(report, 'clients', d.id, await writeEntity(target, d.id, clientFromDex(d), write));
    });
  }
  progress(progressLine(report, 'clients'));

  // Passwords.
  for await (const page of source.passwords()) {
    await pacer.each(page, async (r) => {
      const d = read(report, 'passwords', r);
      if (!d) return;
      const p = passwordFromDex(d);
      if (p.warning) report.warnings.push({ kind: 'passwords', id: p.entity.email, detail: p.warning });
      const target: Target<typeof p.entity> = {
        get: (email) => storage.getPassword(email),
        create: (e) => storage.createPassword(e),
        update: (email, u) => storage.updatePassword(email, u),
        decide: comparePassword,
      };
      record(report, 'passwords', p.entity.email, await writeEntity(target, p.entity.email, p.entity, write));
    });
  }
  progress(progressLine(report, 'passwords'));

  await importKeys(source, storage, opts, report, pacer);
  progress(progressLine(report, 'signingKeys'));

  // Refresh tokens, a page at a time, the next page read while this one is written.
  const lifetimes = new RefreshTokens(storage, opts.refreshPolicy, opts.clock, randomIds);
  const now = opts.clock.now();
  const total = await source.refreshTokenCount();
  const seen = new Lookups(storage, importedClients, importedConnectors);
  const pages = source.refreshTokens()[Symbol.asyncIterator]();
  let pending = pages.next();
  for (;;) {
    const page = await pending;
    if (page.done) break;
    pending = pages.next();
    await pacer.each(page.value, async (r) => {
      const d = read(report, 'refreshTokens', r);
      if (!d) return;
      const session = await source.offlineSession(d.claims.userID, d.connectorID);
      const t = refreshTokenFromDex(d, session, { now, expiryOf: (x) => lifetimes.expiryOf(x) });
      if ('skip' in t) return skip(report, 'refreshTokens', d.id, t.skip);
      await seen.check(d.clientID, d.connectorID);
      const target: Target<RefreshToken> = {
        get: (id) => storage.getRefreshToken(id),
        create: (e) => storage.createRefreshToken(e),
        update: (id, u) => storage.updateRefreshToken(id, u),
        decide: compareRefreshToken,
      };
      record(report, 'refreshTokens', d.id, await writeEntity(target, d.id, t.entity, write));
    });
    progress(progressLine(report, 'refreshTokens', total));
  }
  for (const w of seen.warnings()) report.warnings.push(w);

  report.shortLived = await source.shortLived();
  const found = Object.values(report.kinds).some((t) => t.read > 0);
  if (!found) {
    report.notes.push(
      `Nothing was found in ${source.description}: is this Dex's storage (and, on Kubernetes, Dex's namespace)?`,
    );
  }
  report.notes.push(
    "Offline sessions are not copied as objects: each refresh token takes its user's upstream connector " +
      'data from them (Latchkey keeps one login per refresh token).',
  );
  report.retries = pacer.retries;
  report.elapsedMs = Date.now() - started;
  return report;
}

/** Counts a record as read; an undecodable one is skipped with the reason. */
function read<T>(report: ImportReport, kind: KindName, r: DexRecord<T>): T | undefined {
  report.kinds[kind].read++;
  if ('value' in r) return r.value;
  skip(report, kind, r.name, `cannot be read: ${r.invalid}`);
  return undefined;
}

async function importKeys(
  source: DexSource,
  storage: Storage,
  opts: ImportDexOptions,
  report: ImportReport,
  pacer: Pacer,
): Promise<void> {
  const dex = await source.keys();
  if (!dex) {
    report.notes.push('Dex has no signing keys stored: no Dex-issued ID token can still be valid.');
    return;
  }
  const now = opts.clock.now();
  const tally = report.kinds.signingKeys;
  tally.read = (dex.signingKeyPub ? 1 : 0) + dex.verificationKeys.length;
  const imported = keysFromDex(dex, now, opts.idTokenLifetimeMs);
  for (const s of imported.skipped) skip(report, 'signingKeys', s.kid, s.reason);

  const existing = await getKeySet(storage, pacer);
  const have = new Set(existing?.keys.map((k) => k.kid) ?? []);
  for (const k of imported.keys) {
    if (have.has(k.kid)) tally.unchanged++;
    else {
      tally.created++;
      report.changes++;
    }
  }
  if (imported.keys.length > 0) {
    const until = imported.keys.map((k) => `${k.kid} until ${k.publishUntil!.toISOString()}`).join(', ');
    report.notes.push(`Dex's public keys published at Latchkey's /keys (never used to sign): ${until}.`);
  }
  report.notes.push("Dex's private signing key is not imported: Latchkey signs with its own keys.");
  if (existing === undefined) {
    report.notes.push(
      report.dryRun
        ? "Latchkey's signing key set does not exist yet: the import would create it with Latchkey's own keys."
        : "Latchkey's signing key set did not exist yet: created with Latchkey's own keys.",
    );
  }
  if (!opts.apply || imported.keys.every((k) => have.has(k.kid))) return;
  try {
    if (existing === undefined) {
      const ks = await newSigningKeySet(
        now,
        opts.signer.rotationPeriodMs,
        opts.signer.algorithm,
        imported.keys,
      );
      try {
        await pacer.retrying(() => storage.createKeySet(ks));
        return;
      } catch (e) {
        // A Latchkey that started meanwhile created it: add to that one.
        if (!isAlreadyExists(e)) throw e;
      }
    }
    await pacer.retrying(() => storage.updateKeySet('signing', (ks) => withDexKeys(ks, imported.keys)));
  } catch (e) {
    tally.failed += tally.created;
    report.changes -= tally.created;
    tally.created = 0;
    report.failures.push({ kind: 'signingKeys', id: 'signing', detail: (e as Error).message });
  }
}

async function getKeySet(storage: Storage, pacer: Pacer): Promise<KeySet | undefined> {
  try {
    return await pacer.retrying(() => storage.getKeySet('signing'));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * Clients and connectors the imported refresh tokens name but Latchkey will not have: those tokens cannot
 * refresh until they are configured. Each ID is looked up once.
 */
class Lookups {
  private readonly clients = new Map<string, Promise<boolean>>();
  private readonly connectors = new Map<string, Promise<boolean>>();
  private readonly missing = new Map<string, { kind: 'client' | 'connector'; id: string; tokens: number }>();

  constructor(
    private readonly storage: Storage,
    private readonly importedClients: ReadonlySet<string>,
    private readonly importedConnectors: ReadonlySet<string>,
  ) {}

  async check(clientID: string, connectorID: string): Promise<void> {
    if (!this.clients.has(clientID)) {
      this.clients.set(
        clientID,
        this.importedClients.has(clientID)
          ? Promise.resolve(true)
          : exists(() => this.storage.getClient(clientID)),
      );
    }
    if (!this.connectors.has(connectorID)) {
      this.connectors.set(
        connectorID,
        this.importedConnectors.has(connectorID)
          ? Promise.resolve(true)
          : exists(() => this.storage.getConnector(connectorID)),
      );
    }
    if (!(await this.clients.get(clientID))) this.count('client', clientID);
    if (!(await this.connectors.get(connectorID))) this.count('connector', connectorID);
  }

  warnings(): { kind: KindName; id: string; detail: string }[] {
    return [...this.missing.values()].map((m) => ({
      kind: 'refreshTokens',
      id: m.id,
      detail:
        `${m.tokens} refresh tokens name ${m.kind} ${JSON.stringify(m.id)}, which Latchkey does not have ` +
        `(nor does Dex's storage hold it): add it to Latchkey's config, or those tokens fail to refresh`,
    }));
  }

  private count(kind: 'client' | 'connector', id: string): void {
    const key = `${kind}:${id}`;
    const m = this.missing.get(key) ?? { kind, id, tokens: 0 };
    m.tokens++;
    this.missing.set(key, m);
  }
}

async function exists(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}
