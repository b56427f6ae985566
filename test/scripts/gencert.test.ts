import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

function sh(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

describe('scripts/gencert.sh', () => {
  const script = join(REPO_ROOT, 'scripts/gencert.sh');

  it('makes a CA and a server certificate with the requested SANs, signed by that CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gencert-'));
    const r = await sh(script, ['--dns', 'dex.example.com', '--ip', '127.0.0.1'], dir);
    expect(r.code).toBe(0);
    const ca = new X509Certificate(await readFile(join(dir, 'ssl/ca.pem')));
    const cert = new X509Certificate(await readFile(join(dir, 'ssl/cert.pem')));
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:dex.example.com, IP Address:127.0.0.1');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(
      cert.checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(await readFile(join(dir, 'ssl/key.pem'))),
      ),
    ).toBe(true);
    expect((await stat(join(dir, 'ssl/key.pem'))).mode & 0o077).toBe(0);
  });

  it('is idempotent and refuses to overwrite different certificates without --force', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gencert-'));
    expect((await sh(script, ['--dns', 'a.example'], dir)).code).toBe(0);
    const first = await readFile(join(dir, 'ssl/cert.pem'), 'utf8');
    const again = await sh(script, ['--dns', 'a.example'], dir);
    expect(again).toMatchObject({ code: 0, stdout: expect.stringContaining('nothing to do') });
    expect(await readFile(join(dir, 'ssl/cert.pem'), 'utf8')).toBe(first);
    const other = await sh(script, ['--dns', 'b.example'], dir);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('use --force to replace it');
    expect(await readFile(join(dir, 'ssl/cert.pem'), 'utf8')).toBe(first);
    expect((await sh(script, ['--dns', 'b.example', '--force', '--key-type', 'rsa'], dir)).code).toBe(0);
    const replaced = new X509Certificate(await readFile(join(dir, 'ssl/cert.pem')));
    expect(replaced.subjectAltName).toBe('DNS:b.example');
    expect(replaced.publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('keeps the seed’s `cd examples/k8s && ./gencert.sh` working (dex.example.com by default)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gencert-'));
    const r = await sh(
      join(REPO_ROOT, 'examples/k8s/gencert.sh'),
      ['--out', join(dir, 'ssl')],
      join(REPO_ROOT, 'examples/k8s'),
    );
    expect(r.code).toBe(0);
    expect(new X509Certificate(await readFile(join(dir, 'ssl/cert.pem'))).subjectAltName).toBe(
      'DNS:dex.example.com',
    );
  });

  it('rejects bad arguments with exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gencert-'));
    expect((await sh(script, ['--key-type', 'dsa'], dir)).code).toBe(2);
    expect((await sh(script, ['--bogus'], dir)).code).toBe(2);
  });
});
