import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { basicAuth, postForm } from '../helpers/flows.js';
import { join } from 'node:path';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig } from '../helpers/config.js';
import { waitFor } from '../helpers/wait.js';

// Two `latchkey serve` processes on one SQLite file, with a 4 s rotation period: they share one key set,
// publish the same JWKS and, across both, perform each rotation step exactly once.
const PERIOD_S = 4;

async function jwksKids(issuer: string): Promise<string[]> {
  const jwks = (await (await fetch(`${issuer}/keys`)).json()) as JSONWebKeySet;
  return jwks.keys.map((k) => k.kid!).sort();
}

async function rotationCount(telemetryPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
  const m = /^latchkey_key_rotations_total\{keyset="signing"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('two server processes sharing one SQLite file', () => {
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('share keys, rotate each step once, and publish the same JWKS', async () => {
    const signer = [
      `signer:\n  type: local\n  config:\n    keysRotationPeriod: ${PERIOD_S}s`,
      'oauth2:\n  passwordConnector: local',
      'enablePasswordDB: true',
      'staticPasswords:\n- email: admin@example.com',
      '  hash: "$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW"',
      '  username: admin\n  userID: admin-1',
    ].join('\n');
    const a = await writeTestConfig({ extra: signer });
    const b = await writeTestConfig({ extra: signer, dir: a.dir });
    for (const cfg of [a, b]) {
      servers.push(await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`));
    }

    // On a busy machine a rotation may already have happened while the second process started.
    const initial = await jwksKids(a.issuer);
    expect(initial.length).toBeGreaterThanOrEqual(2);

    // Wait (against a deadline) until at least two rotation steps have happened, and both replicas agree.
    const rotated = await waitFor(
      async () => {
        const [ka, kb] = await Promise.all([jwksKids(a.issuer), jwksKids(b.issuer)]);
        return ka.length >= initial.length + 2 && JSON.stringify(ka) === JSON.stringify(kb) ? ka : undefined;
      },
      { timeoutMs: 8 * PERIOD_S * 1000, intervalMs: 200, what: 'two rotations seen by both replicas' },
    );
    expect(rotated).toEqual(expect.arrayContaining(initial));

    // A token signed by either process verifies against the other's JWKS (same key set, same issuer path).
    for (const [signerCfg, verifierCfg] of [
      [a, b],
      [b, a],
    ] as const) {
      const r = await postForm(
        `${signerCfg.issuer}/token`,
        { grant_type: 'password', username: 'admin@example.com', password: 'password', scope: 'openid' },
        basicAuth('example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0'),
      );
      expect(r.status).toBe(200);
      const jwks = createLocalJWKSet(
        (await (await fetch(`${verifierCfg.issuer}/keys`)).json()) as JSONWebKeySet,
      );
      const { payload } = await jwtVerify(r.body.id_token as string, jwks, { audience: 'example-app' });
      expect(payload.iss).toBe(signerCfg.issuer);
    }

    // Every key beyond the first two came from one rotation by one replica.
    const storage = SqliteStorage.open(join(a.dir, 'latchkey.db'));
    try {
      const ks = await storage.getKeySet('signing');
      const [ra, rb] = await Promise.all([rotationCount(a.telemetryPort), rotationCount(b.telemetryPort)]);
      expect(ra + rb).toBe(ks.keys.length - 2);
      // Rotation steps are a period apart: no step was performed twice.
      const retired = ks.keys
        .map((k) => k.retiredAt?.getTime())
        .filter((t): t is number => t !== undefined)
        .sort((x, y) => x - y);
      expect(retired.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < retired.length; i++) {
        expect(retired[i]! - retired[i - 1]!).toBeGreaterThan((PERIOD_S * 1000) / 2);
      }
    } finally {
      await storage.close();
    }
  }, 60_000);
});
