import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as codec from '../../../src/storage/kubernetes/codec.js';
import type { KubeObject } from '../../../src/storage/kubernetes/api.js';
import {
  loadCrdManifests,
  SCHEMA_REVISION,
  SCHEMA_REVISION_ANNOTATION,
} from '../../../src/storage/kubernetes/startup.js';
import { checkHash } from '../../../src/connectors/local/bcrypt-hash.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import * as f from '../fixtures.js';

// The CRD manifests are the one schema (the Helm chart reuses them); these checks need no cluster. Above all:
// every field the back end writes is declared, because the API server silently prunes undeclared fields.

interface Schema {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  required?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [k: string]: unknown;
}

interface Crd {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: Schema };
      subresources?: { status?: object };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
    }[];
  };
}

const crds = new Map(
  [...loadCrdManifests(join(REPO_ROOT, 'manifests/crds'))].map(([n, o]) => [n, o as unknown as Crd]),
);
const specSchema = (kind: codec.Kind<unknown>): Schema =>
  crds.get(`${kind.plural}.latchkey.dev`)!.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;

const EXPECTED: [string, string, string][] = [
  ['AuthRequest', 'authrequests', 'lkar'],
  ['AuthCode', 'authcodes', 'lkac'],
  ['RefreshToken', 'refreshtokens', 'lkrt'],
  ['OAuth2Client', 'oauth2clients', 'lkclient'],
  ['Password', 'passwords', 'lkpw'],
  ['KeySet', 'keysets', 'lkkeys'],
  ['Connector', 'connectors', 'lkconn'],
  ['DeviceRequest', 'devicerequests', 'lkdr'],
  ['DeviceToken', 'devicetokens', 'lkdt'],
  ['OfflineSessions', 'offlinesessions', 'lkos'],
  ['Revocation', 'revocations', 'lkrv'],
  ['AuthSession', 'authsessions', 'lkas'],
];

describe('CRD manifests', () => {
  it('are one file per kind, namespaced, latchkey.dev/v1, with the agreed names', () => {
    expect(readdirSync(join(REPO_ROOT, 'manifests/crds')).filter((x) => x.endsWith('.yaml'))).toHaveLength(
      EXPECTED.length,
    );
    for (const [kind, plural, short] of EXPECTED) {
      const crd = crds.get(`${plural}.latchkey.dev`);
      expect(crd).toBeDefined();
      expect(crd!.spec.group).toBe('latchkey.dev');
      expect(crd!.spec.scope).toBe('Namespaced');
      expect(crd!.spec.names).toMatchObject({ kind, plural, shortNames: [short] });
      expect(crd!.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1', true, true]]);
    }
    expect(codec.ALL_KINDS.map((k) => [k.kind, k.plural]).sort()).toEqual(
      EXPECTED.map(([k, p]) => [k, p]).sort(),
    );
  });

  it('type every node, and preserve unknown fields only in a connector’s config', () => {
    const untyped: string[] = [];
    const preserving: string[] = [];
    const walk = (s: Schema, path: string): void => {
      if (!s.type) untyped.push(path);
      if (s['x-kubernetes-preserve-unknown-fields']) preserving.push(path);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
      if (s.additionalProperties) walk(s.additionalProperties, `${path}{}`);
      if (s.items) walk(s.items, `${path}[]`);
    };
    for (const [name, crd] of crds) walk(crd.spec.versions[0]!.schema.openAPIV3Schema, name);
    expect(untyped).toEqual([]);
    expect(preserving).toEqual(['connectors.latchkey.dev.spec.config']);
  });

  it('give JWKs explicit members', () => {
    const key = specSchema(codec.keySets).properties!.keys!.items!;
    for (const jwk of ['privateJwk', 'publicJwk']) {
      const props = Object.keys(key.properties![jwk]!.properties!);
      expect(props).toEqual(
        expect.arrayContaining(['kty', 'kid', 'alg', 'use', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi']),
      );
      expect(props).toEqual(expect.arrayContaining(['crv', 'x', 'y', 'k']));
    }
  });

  it('show the columns an operator needs', () => {
    const columns = (plural: string): string[] =>
      crds.get(`${plural}.latchkey.dev`)!.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name);
    expect(columns('oauth2clients')).toEqual(expect.arrayContaining(['Name', 'Public', 'Age']));
    expect(columns('refreshtokens')).toEqual(['Client', 'User', 'Expiry', 'Last Used', 'Age']);
    expect(columns('authrequests')).toEqual(expect.arrayContaining(['Client', 'User', 'Expiry']));
    expect(columns('authcodes')).toEqual(expect.arrayContaining(['Client', 'User', 'Expiry']));
    expect(columns('passwords')).toEqual(expect.arrayContaining(['Email', 'Username']));
    expect(columns('keysets')).toEqual(expect.arrayContaining(['Next Rotation']));
    expect(columns('connectors')).toEqual(expect.arrayContaining(['Type', 'Name']));
    expect(columns('devicerequests')).toEqual(expect.arrayContaining(['Client', 'Expiry']));
    expect(columns('devicetokens')).toEqual(expect.arrayContaining(['Status', 'Expiry']));
    expect(columns('revocations')).toEqual(['Grant', 'Expiry', 'Age']);
    expect(columns('authsessions')).toEqual(['User', 'Connector', 'Auth Time', 'Idle Expiry', 'IP', 'Age']);
    // Every column path exists in the schema.
    for (const [, crd] of crds) {
      const v = crd.spec.versions[0]!;
      for (const c of v.additionalPrinterColumns) {
        if (c.jsonPath.startsWith('.metadata.')) continue;
        let s: Schema | undefined = v.schema.openAPIV3Schema;
        // A filter (`conditions[?(@.type=="Ready")]`) picks list items.
        for (const part of c.jsonPath
          .slice(1)
          .replace(/\[\?\(.*?\)\]/g, '[]')
          .split('.')) {
          s = part.endsWith('[]') ? s?.properties?.[part.slice(0, -2)]?.items : s?.properties?.[part];
        }
        expect([crd.metadata.name, c.jsonPath, s?.type]).toEqual([
          crd.metadata.name,
          c.jsonPath,
          expect.any(String),
        ]);
      }
    }
  });
});

describe('CRD manifests for operators (issue 17 item 6)', () => {
  it('carry the schema revision the code checks at start-up', () => {
    for (const [name, crd] of crds) {
      expect([name, crd.metadata.annotations?.[SCHEMA_REVISION_ANNOTATION]]).toEqual([
        name,
        String(SCHEMA_REVISION),
      ]);
      // Also where an identity without access to CRDs reads it: the published OpenAPI (descriptions only).
      const root = crd.spec.versions[0]!.schema.openAPIV3Schema.description as string;
      expect([name, root.match(/\(latchkey\.dev\/schema-revision: (\d+)\)$/)?.[1]]).toEqual([
        name,
        String(SCHEMA_REVISION),
      ]);
    }
  });

  it('describe every field, for kubectl explain', () => {
    const bare: string[] = [];
    const walk = (s: Schema, path: string): void => {
      // metadata is Kubernetes' ObjectMeta, which kubectl explain describes itself.
      if (!path.endsWith('.metadata') && typeof s.description !== 'string') bare.push(path);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
      if (s.additionalProperties) walk(s.additionalProperties, `${path}{}`);
      if (s.items?.type === 'object') walk(s.items, `${path}[]`);
    };
    for (const [name, crd] of crds) walk(crd.spec.versions[0]!.schema.openAPIV3Schema, name);
    expect(bare).toEqual([]);
  });

  it.each(['oauth2clients', 'passwords', 'connectors'])(
    '%s: a status subresource with a Ready condition, shown as the Ready and Reason columns',
    (plural) => {
      const v = crds.get(`${plural}.latchkey.dev`)!.spec.versions[0]!;
      expect(v.subresources).toEqual({ status: {} });
      const columns = Object.fromEntries(v.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]));
      expect(columns.Ready).toBe('.status.conditions[?(@.type=="Ready")].status');
      expect(columns.Reason).toBe('.status.conditions[?(@.type=="Ready")].reason');
      const condition = v.schema.openAPIV3Schema.properties!.status!.properties!.conditions!.items!;
      expect(Object.keys(condition.properties!).sort()).toEqual(
        ['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type'].sort(),
      );
    },
  );

  it('take every bcrypt-shaped hash: all the local connector accepts, and the costs it refuses (shown by status)', () => {
    const pattern = new RegExp(specSchema(codec.passwords).properties!.hash!.pattern as string);
    const tail = '2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
    const hashes = [
      ...['a', 'b', 'y', 'x', ''].flatMap((v) =>
        ['04', '09', '10', '12', '16', '17', '31'].map((c) => `$2${v}$${c}$${tail}`),
      ),
      `$2b$10$${tail}X`,
      `$2b$10$${tail.slice(1)}`,
      `$2b$10$${tail.slice(1)}!`,
      Buffer.from(`$2b$10$${tail}`).toString('base64'),
    ];
    // Every hash that can log in is admitted…
    for (const h of hashes.filter((x) => checkHash(x).ok)) expect([h, pattern.test(h)]).toEqual([h, true]);
    // …and beyond those only a bcrypt hash whose cost is out of range (an imported Dex hash), never another shape.
    const costOutOfRange = (h: string) => /^\$2[aby]\$(0\d|1[7-9]|[2-9]\d)\$[./A-Za-z0-9]{53}$/.test(h);
    for (const h of hashes) expect([h, pattern.test(h)]).toEqual([h, checkHash(h).ok || costOutOfRange(h)]);
    expect(hashes.filter((h) => pattern.test(h))).toHaveLength(21);
  });

  it('refuse redirect URIs with whitespace or a fragment before they reach the server', () => {
    const uri = specSchema(codec.clients).properties!.redirectURIs!.items!;
    const pattern = new RegExp(uri.pattern as string);
    for (const ok of ['http://127.0.0.1:5555/callback', 'urn:ietf:wg:oauth:2.0:oob', '/device/callback']) {
      expect([ok, pattern.test(ok)]).toEqual([ok, true]);
    }
    for (const bad of ['https://app.example.com/cb#x', 'https://app.example.com/a b', '']) {
      expect([bad, pattern.test(bad)]).toEqual([bad, false]);
    }
    expect(uri['x-kubernetes-validations']).toEqual([
      expect.objectContaining({ rule: expect.stringContaining('isURL(self)') as string }),
    ]);
  });
});

/** Every value of `v` conforms to schema `s`: declared, of the declared type; returns the offending paths. */
function violations(v: unknown, s: Schema, path: string): string[] {
  if (s['x-kubernetes-preserve-unknown-fields']) return [];
  switch (s.type) {
    case 'string':
      if (typeof v !== 'string') return [`${path}: not a string`];
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(v)) return [`${path}: pattern`];
      if (s.format === 'date-time' && Number.isNaN(Date.parse(v))) return [`${path}: not a date-time`];
      if (Array.isArray(s.enum) && !s.enum.includes(v)) return [`${path}: not in enum`];
      return [];
    case 'boolean':
      return typeof v === 'boolean' ? [] : [`${path}: not a boolean`];
    case 'integer':
      return Number.isInteger(v) ? [] : [`${path}: not an integer`];
    case 'array':
      return Array.isArray(v)
        ? v.flatMap((x, i) => violations(x, s.items!, `${path}[${i}]`))
        : [`${path}: not an array`];
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${path}: not an object`];
      const o = v as Record<string, unknown>;
      const out = (s.required ?? []).filter((r) => !(r in o)).map((r) => `${path}.${r}: required`);
      for (const [k, x] of Object.entries(o)) {
        const sub = s.properties?.[k] ?? s.additionalProperties;
        if (!sub) out.push(`${path}.${k}: not declared (would be pruned)`);
        else out.push(...violations(x, sub, `${path}.${k}`));
      }
      return out;
    }
    default:
      return [`${path}: no type`];
  }
}

const examples: [codec.Kind<unknown>, unknown][] = [
  [codec.authRequests, f.authRequest('ar')],
  [codec.authCodes, f.authCode('ac')],
  [codec.refreshTokens, f.refreshToken('rt', f.farFuture())],
  [codec.offlineSessions, f.offlineSessions('u', 'c')],
  [codec.clients, f.client('c')],
  [codec.passwords, f.password('A@Example.com')],
  [codec.connectors, f.connector('ldap')],
  [codec.deviceRequests, f.deviceRequest('BCDF-GHJK')],
  [codec.deviceTokens, f.deviceToken('dc')],
  [codec.revocations, { id: 'grant', expiry: new Date('2030-01-01T00:00:00.123+02:00') }],
  [codec.sessions, f.session('sid')],
  [codec.sessions, { ...f.session('bare'), clients: {}, consents: {}, answeredApprovals: {}, amr: [] }],
  [
    codec.keySets,
    {
      ...f.keySet('signing'),
      keys: [
        ...f.keySet('signing').keys,
        {
          kid: 'odd',
          alg: 'RS256',
          privateJwk: { kty: 'oct', k: 'AAAA', key_ops: ['sign'], ext: true, x5c: ['MII'], custom: { n: 1 } },
          createdAt: new Date(1),
          activeFrom: new Date(2),
        },
      ],
    },
  ],
];

describe('codec', () => {
  it.each(examples.map(([k, v]) => [k.kind, k, v] as const))(
    '%s: writes only declared, well-typed fields and reads back exactly what it wrote',
    (_name, kind, value) => {
      const spec = JSON.parse(JSON.stringify(kind.encode(value))) as Record<string, unknown>;
      expect(violations(spec, specSchema(kind), 'spec')).toEqual([]);
      const back = kind.decode({ metadata: { name: 'x' }, spec } as KubeObject);
      const expected = kind === codec.passwords ? { ...(value as object), email: 'a@example.com' } : value;
      expect(back).toEqual(expected);
    },
  );

  it('keeps the lookup labels valid label values and recomputes them on update', () => {
    const rt = { ...f.refreshToken('rt', new Date('2030-01-01T00:00:00.999Z')), clientID: 'Some/Client' };
    const created = codec.toObject(codec.refreshTokens, rt, 'ns');
    expect(created.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'latchkey',
      'latchkey.dev/client': expect.stringMatching(/^h[a-z2-7]{52}$/),
      'latchkey.dev/user': expect.stringMatching(/^h[a-z2-7]{52}$/),
      'latchkey.dev/connector': 'oidc',
      'latchkey.dev/expires': String(Date.UTC(2030, 0, 1) / 1000),
    });
    const withoutExpiry = { ...rt };
    delete withoutExpiry.expiry;
    const base = {
      ...created,
      metadata: { ...created.metadata, labels: { ...created.metadata.labels, mine: 'x' } },
    };
    const updated = codec.toObject(codec.refreshTokens, withoutExpiry, 'ns', base);
    expect(updated.metadata.labels?.['latchkey.dev/expires']).toBeUndefined();
    expect(updated.metadata.labels?.mine).toBe('x');
  });

  it('labels a session with the earlier of its two expiries (garbage collection selects by it), and no client', () => {
    const session = f.session('sid', {
      absoluteExpiry: new Date('2030-01-02T00:00:00Z'),
      idleExpiry: new Date('2030-01-01T00:00:00.999Z'),
    });
    const created = codec.toObject(codec.sessions, session, 'ns');
    expect(created.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'latchkey',
      'latchkey.dev/user': expect.stringMatching(/^h[a-z2-7]{52}$/),
      'latchkey.dev/connector': 'ldap',
      'latchkey.dev/expires': String(Date.UTC(2030, 0, 1) / 1000),
    });
    // Used again: the idle expiry moves past the absolute one, which now decides.
    const used = { ...session, idleExpiry: new Date('2030-01-03T00:00:00Z') };
    const updated = codec.toObject(codec.sessions, used, 'ns', created);
    expect(updated.metadata.labels?.['latchkey.dev/expires']).toBe(String(Date.UTC(2030, 0, 2) / 1000));
  });
});
