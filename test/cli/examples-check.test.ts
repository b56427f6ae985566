import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

// Only Latchkey config files: manifests and other YAML under examples/ are not configs.
const configs = yamlFiles(join(REPO_ROOT, 'examples')).filter((f) => /(^|\/)config[^/]*\.ya?ml$/.test(f));

describe('every examples/ config passes `latchkey serve --check`', () => {
  it('has the seed scenarios', () => {
    expect(configs.map((f) => relative(REPO_ROOT, f)).sort()).toEqual(
      expect.arrayContaining([
        'examples/config-dev.yaml',
        'examples/config-ad-kubelogin.yaml',
        'examples/config-token-exchange.yaml',
        'examples/config-github-actions.yaml',
        'examples/config-custom-frontend.yaml',
        'examples/k8s/config.yaml',
      ]),
    );
  });

  it.each(configs.map((f) => [relative(REPO_ROOT, f)]))('%s', async (file) => {
    // examples/k8s/config.yaml reads the GitHub app's credentials from the environment (the Deployment sets
    // them from a Secret); unset, they expand to "" and the github connector refuses to open.
    const r = await runCli(['serve', '--check', file], {
      env: { GITHUB_CLIENT_ID: 'example-client-id', GITHUB_CLIENT_SECRET: 'example-client-secret' },
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stdout).toContain('configuration is valid');
  });
});
