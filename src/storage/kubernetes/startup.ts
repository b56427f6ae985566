import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { KubeApiError, type KubeApi, type KubeObject, type ResourceRef } from './api.js';
import { KubernetesStorageStartupError } from './cluster.js';
import { ALL_KINDS, GROUP, type Kind } from './codec.js';
import type { StorageLogger } from './logger.js';

// What `open` checks before serving: the CRDs exist (or are created from manifests/crds with
// crdHandling: ensure), the credentials may do what the back end does, and the API answers at all. Each
// failure says what is wrong in words an operator can act on.

const CRD_REF: ResourceRef = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
};
const RULES_REVIEW_REF: ResourceRef = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'selfsubjectrulesreviews',
};

const CLUSTER_SCOPED = new Set([CRD_REF.plural, RULES_REVIEW_REF.plural]);

/** manifests/crds, found from this module both in src/ and in dist/. */
export const DEFAULT_CRD_DIR = fileURLToPath(new URL('../../../manifests/crds/', import.meta.url));

export const crdName = (k: Kind<unknown>): string => `${k.plural}.${GROUP}`;

/**
 * The revision of the CRD schemas this code writes and reads, carried by every CRD in manifests/crds as this
 * annotation (a test keeps them equal). Raise it with every schema change: Kubernetes keeps CRDs across
 * upgrades (`helm upgrade` never touches them), so an older one would silently prune or refuse fields.
 * A CRD without the annotation predates it: revision 1. One revision for all CRDs, raised on all of them
 * together, so that one `kubectl apply` of manifests/crds brings every CRD up to date.
 * 2: status subresources, descriptions, validations. 3: browser sessions (the AuthSession CRD; OAuth2Client's
 * logout, SSO and refresh-token-lifetime fields; sessionID on AuthCode and RefreshToken).
 */
export const SCHEMA_REVISION_ANNOTATION = `${GROUP}/schema-revision`;
export const SCHEMA_REVISION = 3;

/** Thrown when the cluster's CRDs are older than this code: says which, and how to update them. */
export class StaleCrdError extends KubernetesStorageStartupError {
  constructor(readonly stale: { name: string; revision: number }[]) {
    super(
      `custom resource definitions older than this Latchkey (it needs schema revision ${SCHEMA_REVISION}): ` +
        stale.map((c) => `${c.name} (revision ${c.revision})`).join(', ') +
        '. Kubernetes keeps CRDs across upgrades and `helm upgrade` never updates them: update them with ' +
        "`kubectl apply --server-side -f manifests/crds/` (the same files as the chart's crds/ directory), " +
        'then restart Latchkey',
    );
    this.name = 'StaleCrdError';
  }
}

export function loadCrdManifests(dir: string = DEFAULT_CRD_DIR): Map<string, KubeObject> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  } catch (e) {
    throw new KubernetesStorageStartupError(
      `cannot read the CRD manifests in ${dir}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const crds = new Map<string, KubeObject>();
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const o = doc.toJS() as KubeObject | null;
      if (o?.kind === 'CustomResourceDefinition') crds.set(o.metadata.name, o);
    }
  }
  return crds;
}

/** The message for a failed start-up request. */
export function describeStartupFailure(e: unknown, namespace: string): string {
  if (!(e instanceof KubeApiError)) return String((e as Error)?.message ?? e);
  if (e.status === 403) {
    const user = /User "([^"]*)"/.exec(e.message)?.[1];
    const where = CLUSTER_SCOPED.has(e.resource) ? '' : ` in namespace "${namespace}"`;
    return `cannot ${e.verb} ${e.qualifiedResource}${where}: forbidden${user ? ` (user "${user}")` : ''}`;
  }
  if (e.status === 401) return `the Kubernetes API rejected the credentials (401 Unauthorized): ${e.message}`;
  return e.message;
}

export interface CrdOptions {
  mode: 'ensure' | 'check';
  dir?: string;
  logger?: StorageLogger | undefined;
  /** How long to wait for created CRDs to be served. */
  timeoutMs?: number;
}

/**
 * Fails unless every kind is served in the namespace (creating missing CRDs when mode is ensure), and then
 * unless every CRD has this code's schema revision (StaleCrdError). The probe is a namespaced list of each
 * kind, and the revision is read from the published OpenAPI when the CRDs may not be read, so in either mode
 * an identity with no permission on customresourcedefinitions starts (the chart's, whose CRDs Helm
 * installs). Only creating a missing one needs `create` (and `get` of it, to see it established).
 */
export async function prepareCrds(api: KubeApi, opts: CrdOptions): Promise<void> {
  await ensureServed(api, opts);
  await checkSchemaRevisions(api, opts.logger);
}

async function ensureServed(api: KubeApi, opts: CrdOptions): Promise<void> {
  const missing = await probeKinds(api);
  if (missing.length === 0) return;
  const names = missing.map(crdName);
  if (opts.mode === 'check') {
    throw new KubernetesStorageStartupError(
      `custom resource definitions missing in the cluster: ${names.join(', ')} ` +
        '(crdHandling: check never creates them; install manifests/crds with kubectl apply, ' +
        'or use crdHandling: ensure)',
    );
  }
  const manifests = loadCrdManifests(opts.dir);
  for (const name of names) {
    const crd = manifests.get(name);
    if (!crd) {
      throw new KubernetesStorageStartupError(`no manifest for ${name} in ${opts.dir ?? DEFAULT_CRD_DIR}`);
    }
    try {
      await api.createClusterScoped(CRD_REF, crd);
      opts.logger?.info({ crd: name }, 'kubernetes storage: created custom resource definition');
    } catch (e) {
      // Another replica created it first: fine.
      if (e instanceof KubeApiError && e.status === 409) continue;
      if (e instanceof KubeApiError && e.status === 403) {
        throw new KubernetesStorageStartupError(
          `cannot create customresourcedefinitions.apiextensions.k8s.io (${name}): forbidden; ` +
            'grant that or install manifests/crds beforehand and use crdHandling: check',
          { cause: e },
        );
      }
      throw new KubernetesStorageStartupError(describeStartupFailure(e, api.namespace), { cause: e });
    }
  }
  await waitServed(api, missing, opts.timeoutMs ?? 60_000);
}

/** A CRD's schema revision (annotation absent: 1, the revision before there was one). */
export function schemaRevisionOf(crd: KubeObject): number {
  const value = crd.metadata.annotations?.[SCHEMA_REVISION_ANNOTATION];
  const n = value === undefined ? 1 : Number(value);
  return Number.isInteger(n) ? n : 0;
}

/**
 * The same revision at the end of each CRD's top-level description, as `(latchkey.dev/schema-revision: N)`:
 * the published OpenAPI carries descriptions but no annotations, and it is all an identity without any
 * permission on CRDs (the chart's) can read of them. `kubectl explain <kind>` shows it too.
 */
const REVISION_IN_DESCRIPTION = /\(latchkey\.dev\/schema-revision: (\d+)\)/;

/**
 * Fails with StaleCrdError if a CRD in the cluster is older than this code (a newer one is accepted: schema
 * changes only add). Reads each CRD's annotation (one GET per CRD, which `get` on Latchkey's own
 * customresourcedefinitions allows); an identity without that reads the group's published OpenAPI instead
 * (one GET, open to every authenticated user).
 */
export async function checkSchemaRevisions(api: KubeApi, logger?: StorageLogger): Promise<void> {
  let revisions: Map<string, number>;
  try {
    revisions = await annotatedRevisions(api);
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 403)) {
      throw new KubernetesStorageStartupError(describeStartupFailure(e, api.namespace), { cause: e });
    }
    revisions = await publishedRevisions(api, logger);
  }
  const stale = [...revisions]
    .map(([name, revision]) => ({ name, revision }))
    .filter((c) => c.revision < SCHEMA_REVISION);
  if (stale.length > 0) throw new StaleCrdError(stale);
}

async function annotatedRevisions(api: KubeApi): Promise<Map<string, number>> {
  const crds = await Promise.all(ALL_KINDS.map((k) => api.getClusterScoped(CRD_REF, crdName(k))));
  return new Map(crds.map((crd) => [crd.metadata.name, schemaRevisionOf(crd)]));
}

interface OpenApiSchema {
  description?: string;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

/** The revisions the published OpenAPI shows; a kind it does not show yet (just created) is left out. */
async function publishedRevisions(api: KubeApi, logger?: StorageLogger): Promise<Map<string, number>> {
  const revisions = new Map<string, number>();
  let doc: { components?: { schemas?: Record<string, OpenApiSchema> } };
  try {
    doc = await api.openApiV3(GROUP, 'v1');
  } catch (e) {
    logger?.warn(
      { err: e },
      'kubernetes storage: cannot read the CRDs or their published OpenAPI, so their schema revision is not ' +
        'checked (grant get on customresourcedefinitions named *.latchkey.dev)',
    );
    return revisions;
  }
  const schemas = Object.values(doc.components?.schemas ?? {});
  for (const k of ALL_KINDS) {
    const schema = schemas.find((s) =>
      s['x-kubernetes-group-version-kind']?.some((g) => g.group === GROUP && g.kind === k.kind),
    );
    if (!schema) continue;
    const m = REVISION_IN_DESCRIPTION.exec(schema.description ?? '');
    revisions.set(crdName(k), m ? Number(m[1]) : 1);
  }
  return revisions;
}

/** LIST limit=1 per kind: 404 = the resource type is unknown (CRD missing); 403 = no RBAC. */
async function probeKinds(api: KubeApi): Promise<Kind<unknown>[]> {
  const outcomes = await Promise.all(
    ALL_KINDS.map(async (k) => {
      try {
        await api.list(k.ref, { limit: 1 });
        return { k, missing: false };
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 404) return { k, missing: true };
        return { k, error: e };
      }
    }),
  );
  const failures = outcomes.filter((o) => 'error' in o);
  const forbidden = failures.filter((o) => o.error instanceof KubeApiError && o.error.status === 403);
  if (forbidden.length > 0) {
    throw new KubernetesStorageStartupError(
      forbidden.map((o) => describeStartupFailure(o.error, api.namespace)).join('; '),
      { cause: forbidden[0]!.error },
    );
  }
  if (failures.length > 0) {
    const e = failures[0]!.error;
    throw new KubernetesStorageStartupError(describeStartupFailure(e, api.namespace), { cause: e });
  }
  return outcomes.filter((o) => o.missing).map((o) => o.k);
}

/** A created CRD is served once it is Established and the resource answers a list. */
async function waitServed(api: KubeApi, kinds: Kind<unknown>[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...kinds];
  let last: unknown;
  while (pending.length > 0) {
    const still: Kind<unknown>[] = [];
    for (const k of pending) {
      try {
        const crd = await api.getClusterScoped<{
          status?: { conditions?: { type: string; status: string }[] };
        }>(CRD_REF, crdName(k));
        const established = crd.status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        );
        if (!established) {
          still.push(k);
          continue;
        }
        await api.list(k.ref, { limit: 1 });
      } catch (e) {
        last = e;
        still.push(k);
      }
    }
    pending = still;
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new KubernetesStorageStartupError(
        `custom resource definitions not established after ${timeoutMs} ms: ${pending.map(crdName).join(', ')}` +
          (last ? ` (${describeStartupFailure(last, api.namespace)})` : ''),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface ResourceRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

interface Permission {
  verb: string;
  group: string;
  resource: string;
}

/**
 * What the back end does: its kinds (watching the cached ones), the garbage-collection Lease, and with
 * watchSecrets the namespace's Secrets. Reading referenced Secrets by name (the default) is not checked
 * here: it needs `get` only once a client references a Secret, possibly limited to some resourceNames,
 * which a rules review cannot judge without the names.
 */
export function requiredPermissions(
  cachedPlurals: ReadonlySet<string>,
  opts: { watchSecrets?: boolean } = {},
): Permission[] {
  const out: Permission[] = [];
  for (const k of ALL_KINDS) {
    const verbs = ['get', 'list', 'create', 'update', 'delete'];
    if (cachedPlurals.has(k.plural)) verbs.push('watch');
    for (const verb of verbs) out.push({ verb, group: GROUP, resource: k.plural });
  }
  for (const verb of ['get', 'create', 'update'])
    out.push({ verb, group: 'coordination.k8s.io', resource: 'leases' });
  if (opts.watchSecrets)
    for (const verb of ['list', 'watch']) out.push({ verb, group: '', resource: 'secrets' });
  return out;
}

const matches = (list: string[] | undefined, v: string): boolean =>
  (list ?? []).some((x) => x === '*' || x === v);

/**
 * Asks the API which rules apply to us in the namespace (one SelfSubjectRulesReview, which every
 * authenticated user may create) and fails naming everything missing. Authorizers that cannot list rules
 * answer "incomplete": then nothing is concluded, and a missing permission shows up when first used.
 */
export async function checkPermissions(
  api: KubeApi,
  required: Permission[],
  logger?: StorageLogger,
): Promise<void> {
  let status: { resourceRules?: ResourceRule[]; incomplete?: boolean } | undefined;
  try {
    const review = await api.createClusterScoped<{ status?: typeof status }>(RULES_REVIEW_REF, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace: api.namespace },
    });
    status = review.status;
  } catch (e) {
    if (e instanceof KubeApiError && !e.transient) {
      logger?.debug({ err: e }, 'kubernetes storage: cannot review own permissions; skipping the check');
      return;
    }
    throw new KubernetesStorageStartupError(describeStartupFailure(e, api.namespace), { cause: e });
  }
  if (!status || status.incomplete) return;
  const rules = status.resourceRules ?? [];
  const missing = required.filter(
    (p) =>
      !rules.some(
        (r) =>
          matches(r.verbs, p.verb) &&
          matches(r.apiGroups, p.group) &&
          matches(r.resources, p.resource) &&
          // A rule limited to some names cannot grant list, watch or create.
          (!(r.resourceNames?.length ?? 0) || !['list', 'watch', 'create'].includes(p.verb)),
      ),
  );
  if (missing.length > 0) {
    const byResource = new Map<string, string[]>();
    for (const p of missing) {
      const r = p.group ? `${p.resource}.${p.group}` : p.resource;
      byResource.set(r, [...(byResource.get(r) ?? []), p.verb]);
    }
    throw new KubernetesStorageStartupError(
      `missing permissions in namespace "${api.namespace}" (verbs not allowed per resource): ` +
        [...byResource].map(([r, verbs]) => `${r}: ${verbs.join(', ')}`).join('; ') +
        '. Grant them with a Role bound to this identity',
    );
  }
}
