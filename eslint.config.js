import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'charts/', 'web/static/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The layering of DESIGN.md: server → oauth/tokens/keys/connectors → storage. Arrows point one way; a
  // module may not import from a layer above its own.
  // src/cluster/ runs a replica as a primary and its workers: it sits above the server, below the CLI.
  ...layer('src/storage/**', [
    'cluster',
    'server',
    'cli',
    'oauth',
    'tokens',
    'keys',
    'connectors',
    'frontend',
  ]),
  ...layer('src/connectors/**', ['cluster', 'server', 'cli', 'oauth', 'tokens', 'keys', 'frontend']),
  ...layer('src/keys/**', ['cluster', 'server', 'cli', 'oauth', 'tokens', 'connectors', 'frontend']),
  ...layer('src/tokens/**', ['cluster', 'server', 'cli', 'oauth', 'connectors', 'frontend']),
  ...layer('src/oauth/**', ['cluster', 'server', 'cli', 'frontend']),
  ...layer('src/config/**', ['cluster', 'server', 'cli', 'oauth', 'tokens', 'keys', 'storage', 'frontend']),
  ...layer('src/server/**', ['cluster', 'cli']),
  ...layer('src/cluster/**', ['cli']),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
);

/**
 * Forbids the files of src/<dir>/ to import from the named top-level folders of src/. The pattern depends
 * on how deep a file sits (src/connectors/x.ts reaches src/ with one `../`, src/connectors/ldap/x.ts with
 * two), so a sibling such as src/connectors/oauth/ is never mistaken for src/oauth/.
 */
function layer(files, above) {
  const dir = files.replace(/^src\//, '').replace(/\/\*\*$/, '');
  return [1, 2, 3].map((depth) => ({
    files: [`src/${dir}/${'*/'.repeat(depth - 1)}*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./){${depth}}(${above.join('|')})/`,
              message: `layering (DESIGN.md): src/${dir}/ may not import from src/{${above.join(',')}}/`,
            },
          ],
        },
      ],
    },
  }));
}
