import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { freePort } from './net.js';

// STAND-IN for GitHub Actions' OIDC token service (https://token.actions.githubusercontent.com and the
// runner's ACTIONS_ID_TOKEN_REQUEST_URL), which cannot be reached from here. It serves what a relying party
// and a workflow step use, in the shapes GitHub documents ("About security hardening with OpenID Connect"):
// - GET /.well-known/openid-configuration — issuer, jwks_uri (/.well-known/jwks), response_types
//   [id_token], subject_types, RS256, scopes [openid], the claims list;
// - GET /.well-known/jwks — the RS256 key;
// - GET or POST /_apis/pipelines/idtoken?api-version=2.0[&audience=…] with `Authorization: bearer
//   <ACTIONS_RUNTIME_TOKEN>` — `{"count": …, "value": "<JWT>"}`, as the runner's token request answers;
// tokens carry GitHub's claim set (sub "repo:<owner>/<repo>:ref:<ref>", repository, actor, workflow, …),
// `aud` = the requested audience or, by default, the owner's URL https://github.com/<owner>.

export interface WorkflowRun {
  repository: string;
  ref: string;
  actor: string;
  workflow: string;
  eventName?: string;
}

export interface GitHubActionsIssuer {
  issuer: string;
  /** ACTIONS_ID_TOKEN_REQUEST_URL for a step of `run`. */
  tokenRequestURL: string;
  /** ACTIONS_RUNTIME_TOKEN: the bearer the token request needs. */
  runtimeToken: string;
  /** The run the token request describes; tests change it. */
  run: WorkflowRun;
  /** A token for `run`, as the token request would give, with `overrides` applied. */
  token(overrides?: JWTPayload & { audience?: string }): Promise<string>;
  /** Replaces the signing key (the old one disappears from the JWKS). */
  rotateKey(): Promise<void>;
  stop(): Promise<void>;
}

const CLAIMS_SUPPORTED = [
  'sub',
  'aud',
  'exp',
  'iat',
  'iss',
  'jti',
  'nbf',
  'ref',
  'sha',
  'repository',
  'repository_id',
  'repository_owner',
  'repository_owner_id',
  'run_id',
  'run_number',
  'run_attempt',
  'actor',
  'actor_id',
  'workflow',
  'workflow_ref',
  'event_name',
  'ref_type',
  'job_workflow_ref',
  'repository_visibility',
  'runner_environment',
];

function newKey(): JWK & { kid: string } {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

export async function startGitHubActionsIssuer(run: WorkflowRun): Promise<GitHubActionsIssuer> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const runtimeToken = randomBytes(24).toString('base64url');
  let key = newKey();

  const sign = async (overrides: JWTPayload & { audience?: string } = {}): Promise<string> => {
    const { audience, ...claims } = overrides;
    const [owner] = state.run.repository.split('/');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      jti: randomUUID(),
      sub: `repo:${state.run.repository}:ref:${state.run.ref}`,
      aud: audience ?? `https://github.com/${owner}`,
      ref: state.run.ref,
      sha: randomBytes(20).toString('hex'),
      repository: state.run.repository,
      repository_owner: owner,
      repository_id: '74',
      repository_owner_id: '65',
      run_id: '4242',
      run_number: '10',
      run_attempt: '1',
      actor: state.run.actor,
      actor_id: '12',
      workflow: state.run.workflow,
      event_name: state.run.eventName ?? 'push',
      ref_type: 'branch',
      repository_visibility: 'private',
      runner_environment: 'github-hosted',
      job_workflow_ref: `${state.run.repository}/.github/workflows/ci.yml@${state.run.ref}`,
      iss: issuer,
      nbf: now - 5,
      iat: now,
      exp: now + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT', x5t: key.kid })
      .sign(await importJWK(key, 'RS256'));
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: CLAIMS_SUPPORTED,
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    }
    if (url.pathname === '/.well-known/jwks') {
      // The public half only: the private members (d, p, q, …) never leave.
      const { kty, n, e } = key;
      return json(200, { keys: [{ kty, n, e, kid: key.kid, alg: 'RS256', use: 'sig', x5t: key.kid }] });
    }
    if (url.pathname === '/_apis/pipelines/idtoken') {
      // The runner accepts GET and POST (actions/toolkit POSTs, the seed's curl -d '{}' too).
      req.resume();
      if (/^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] !== runtimeToken) {
        return json(401, { message: 'Bad credentials' });
      }
      const audience = url.searchParams.get('audience');
      void sign(audience ? { audience } : {}).then((value) => json(200, { count: value.length, value }));
      return;
    }
    json(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  const state: GitHubActionsIssuer = {
    issuer,
    tokenRequestURL: `${issuer}/_apis/pipelines/idtoken?api-version=2.0`,
    runtimeToken,
    run,
    token: sign,
    rotateKey: async () => {
      key = newKey();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}
