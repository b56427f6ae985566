import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// A kubeconfig may hold a client secret, so it is written readable by its owner only (0600, what kubectl
// itself keeps ~/.kube/config at). An existing file is someone's kubeconfig with other clusters in it: it
// is replaced only when asked to (--force), and then in one step, so a failed write never leaves half a file.

export class OutputFileExistsError extends Error {
  override name = 'OutputFileExistsError';
  constructor(readonly path: string) {
    super(`${path} exists; pass --force to replace it`);
  }
}

const OWNER_ONLY = 0o600;

export async function writePrivateFile(path: string, content: string, replace: boolean): Promise<void> {
  if (!replace) {
    // O_EXCL: refuses an existing file (or symlink) without a window between looking and writing.
    try {
      await writeFile(path, content, { mode: OWNER_ONLY, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputFileExistsError(path);
      throw e;
    }
    return;
  }
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, content, { mode: OWNER_ONLY, flag: 'wx' });
    await rename(temporary, path);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
}
