import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

// The README's "Customising the login pages" section is what users follow: the suites run its files.

/** The README's `## <title>` section, up to the next `## ` heading. */
export async function readmeSection(title: string): Promise<string> {
  const text = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The first code block of `lang` in the section that contains `marker`. */
export async function readmeBlock(title: string, lang: string, marker: string): Promise<string> {
  for (const m of (await readmeSection(title)).matchAll(/```([a-z]*)\n([\s\S]*?)```/g)) {
    if (m[1] === lang && m[2]!.includes(marker)) return m[2]!;
  }
  throw new Error(`README "${title}" has no \`\`\`${lang} block with ${marker}`);
}

/** The ported Dex password.html of the porting guide, and the script it moved to static/password.js. */
export async function portedDexPasswordPage(): Promise<{ template: string; script: string }> {
  const title = 'Customising the login pages';
  return {
    template: await readmeBlock(title, 'liquid', 'name="csrf_token"'),
    script: await readmeBlock(title, 'js', '#submit-login'),
  };
}
