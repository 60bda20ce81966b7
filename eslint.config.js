// ESLint: typescript-eslint's type-aware recommended rules over the TypeScript (src/, test/,
// bench/, gulpfile.ts), the plain recommended rules over the scripts. Layout is the formatter's
// (.prettierrc.json, `npm run format:check`); the one layout rule here, max-len, catches what Prettier
// cannot wrap: comments, and string, template and regex literals (see below).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', '**/node_modules/', 'schema.json', 'bench/results/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A name that starts with `_` is left out on purpose (`const { logger: _silent, ...quiet } = options`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Prettier's width (.prettierrc.json) for what it does not wrap. A long string or template literal (a
      // test title, a message) is cut into pieces joined with `+`, which Prettier then lays over several
      // lines; a long regex literal becomes `new RegExp('...' + '...')`.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: false, ignoreTemplateLiterals: false, ignoreRegExpLiterals: false },
      ],
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // The example's pages' own scripts run in a browser.
    files: ['example/**/app_media/**/*.js', 'example/**/static/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.mocha } },
    rules: {
      // Tests forge hostile JSON documents (records, manifests) field by field, on purpose untyped.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // A test body or a step handed to a helper that awaits it may have nothing to await itself.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
