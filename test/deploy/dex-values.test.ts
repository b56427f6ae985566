import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../helpers/cli.js';
import { CHART, findHelm, ok, type Helm } from './helpers.js';

// A Dex user's values file (`helm show values` of Dex's chart, committed as a fixture) against Latchkey's
// chart: schema and templates accept it; what Latchkey cannot do is refused, not ignored.
const DEX_VALUES = join(REPO_ROOT, 'test/deploy/fixtures/dex-chart-values.yaml');
const CONFIG = ['--set-json', 'config={"issuer":"https://login.example.com","enablePasswordDB":true}'];

describe('charts/latchkey with Dex chart values', () => {
  let helm: Helm;
  beforeAll(async () => {
    helm = await findHelm();
  }, 10 * 60_000);
  afterAll(async () => {
    await helm?.cleanup();
  });

  const kinds = (stdout: string) =>
    parseAllDocuments(stdout)
      .map((d) => (d.toJS() as { kind?: string } | null)?.kind)
      .filter(Boolean);

  it('renders and lints with the output of `helm show values dex/dex`', async () => {
    const r = ok(await helm.run(['template', 'r', CHART, '-f', DEX_VALUES, ...CONFIG]), 'helm template');
    expect(kinds(r.stdout)).toEqual(expect.arrayContaining(['Deployment', 'Service', 'Secret']));
    ok(await helm.run(['lint', CHART, '--strict', '-f', DEX_VALUES]), 'helm lint');
  });

  it('applies Dex’s deployment `labels` and `annotations`', async () => {
    const r = ok(
      await helm.run([
        'template',
        'r',
        CHART,
        '-f',
        DEX_VALUES,
        ...CONFIG,
        '--set',
        'labels.team=a,annotations.note=b',
      ]),
      'helm template',
    );
    const deployment = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata: { labels: object; annotations: object } })
      .find((o) => o?.kind === 'Deployment')!;
    expect(deployment.metadata.labels).toMatchObject({ team: 'a' });
    expect(deployment.metadata.annotations).toMatchObject({ note: 'b' });
  });

  it('refuses grpc.enabled: there is no gRPC API to promise', async () => {
    const r = await helm.run([
      'template',
      'r',
      CHART,
      '-f',
      DEX_VALUES,
      ...CONFIG,
      '--set',
      'grpc.enabled=true',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('grpc.enabled: Latchkey has no gRPC API');
  });

  it('renders nothing with enabled: false (umbrella charts)', async () => {
    const r = ok(
      await helm.run(['template', 'r', CHART, ...CONFIG, '--set', 'enabled=false']),
      'helm template',
    );
    expect(kinds(r.stdout)).toEqual([]);
  });
});
