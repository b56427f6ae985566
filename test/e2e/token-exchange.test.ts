import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { parse } from 'yaml';
import { encodeSubject } from '../../src/tokens/subject.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { startGitHubActionsIssuer, type GitHubActionsIssuer } from '../helpers/gha-issuer.js';

// Seed §3 "Machine Authentication to Dex", for real: Latchkey started from examples/config-github-actions.yaml
// (its connector pointed at a stand-in for GitHub's token service), and the `run:` step of
// examples/github-actions-workflow.yaml executed by bash with curl and jq, as a runner would.

const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ID = 'urn:ietf:params:oauth:token-type:id_token';

interface Step {
  run: string;
}

/** The workflow's exchange step, pointed at this test's runner stand-in and Latchkey. */
async function workflowStep(gha: GitHubActionsIssuer, latchkeyBase: string): Promise<string> {
  const doc = parse(await readFile(join(REPO_ROOT, 'examples/github-actions-workflow.yaml'), 'utf8')) as {
    jobs: { exchange: { steps: Step[]; services: { latchkey: { ports: string[] } } } };
  };
  const job = doc.jobs.exchange;
  expect(job.services.latchkey.ports).toEqual(['80:8080']);
  const step = job.steps.find((s) => typeof s.run === 'string' && s.run.includes('token-exchange'));
  expect(step).toBeDefined();
  return (
    step!.run
      .replaceAll('${{steps.script.outputs.IDTOKENURL}}', gha.tokenRequestURL)
      .replaceAll('${{steps.script.outputs.TOKEN}}', gha.runtimeToken)
      // The service container's port 80 on the runner is this test's Latchkey.
      .replaceAll('http://localhost/', `${latchkeyBase}/`) +
    // What a later step would use; printed so the test can look at it.
    '\nprintf "%s" "$DEX_TOKEN_RESPONSE"\n'
  );
}

/** Runs a script as GitHub Actions runs `run:` steps: `bash -e {0}`. */
function bash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-e', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('seed §3: a GitHub Actions job exchanges its OIDC token for a Latchkey token', () => {
  let gha: GitHubActionsIssuer;
  let cfg: TestServerConfig;
  let server: ServerProcess;

  beforeAll(async () => {
    gha = await startGitHubActionsIssuer({
      repository: 'octo-org/octo-repo',
      ref: 'refs/heads/main',
      actor: 'octocat',
      workflow: 'workflow1',
    });
    cfg = await exampleConfig('examples/config-github-actions.yaml', (doc) => {
      const connectors = doc.connectors as { config: Record<string, unknown> }[];
      connectors[0]!.config.issuer = gha.issuer;
    });
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  });
  afterAll(async () => {
    await server?.stop();
    await gha?.stop();
  });

  it('runs the workflow step: the access token carries the job identity', async () => {
    const r = await bash(await workflowStep(gha, cfg.issuer));
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    const response = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(response).toEqual({
      access_token: expect.any(String),
      issued_token_type: ACCESS,
      token_type: 'bearer',
      expires_in: expect.any(Number),
    });
    const keys = createRemoteJWKSet(new URL(`${cfg.issuer}/keys`));
    const { payload } = await jwtVerify(response.access_token as string, keys, {
      issuer: cfg.issuer,
      audience: 'my-app',
    });
    const jobSub = 'repo:octo-org/octo-repo:ref:refs/heads/main';
    expect(payload).toMatchObject({
      sub: encodeSubject(jobSub, 'github-actions'),
      federated_claims: { connector_id: 'github-actions', user_id: jobSub },
    });
  });

  it('returns an ID token in access_token when one is asked for', async () => {
    const res = await fetch(`${cfg.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('my-app:my-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        connector_id: 'github-actions',
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        scope: 'openid profile',
        requested_token_type: ID,
        subject_token: await gha.token({ audience: 'latchkey' }),
        subject_token_type: ID,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body.issued_token_type).toBe(ID);
    expect(body.id_token).toBeUndefined();
    expect(body.refresh_token).toBeUndefined();
    const claims = decodeJwt(body.access_token!);
    // The ID token: its at_hash would name an access token, and none was issued.
    expect(claims.at_hash).toBeUndefined();
    expect(claims).toMatchObject({ aud: 'my-app', name: 'repo:octo-org/octo-repo:ref:refs/heads/main' });
  });

  it('warned at start that the connector accepts tokens for any audience', () => {
    expect(server.output()).toMatch(/github-actions.*any audience/);
  });
});
