/**
 * ESLint flat config for the whole monorepo (`npm run lint`; `npm test` runs it first).
 *
 * Type-aware rules run on every TypeScript file. The two that matter most are errors, not warnings:
 * an unawaited store call in auth code is a security bug (a revocation that has not happened yet
 * when the response says it has, a rejection nobody sees), and a promise passed where a callback's
 * return value is ignored (an async Express handler, an async event listener) loses its errors.
 *
 * Formatting is not ESLint's job here: see CONTRIBUTING.md (Prettier, checked on the files listed
 * in .prettier-checked).
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/*.tsbuildinfo',
      '**/.latchkey/**',
      'bench/results/**',
      '**/test-artifacts/**',
      'coverage/**',
      // Browser bundles written by the demo's build step.
      'examples/*/public/**',
      'packages/latchkey/temp/**',
      // Written by Next.js on every build.
      'examples/nextjs/next-env.d.ts',
      'examples/nextjs/.next/**',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  // Plain JavaScript (scripts, bench, the demo, test fixtures): the recommended rules, no types.
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
  },
  // TypeScript: type-aware, against the same tsconfig files `npm run typecheck` uses.
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        // The Next.js example has its own tsconfig (JSX, the `@/` path alias, Next's types).
        project: [
          './packages/latchkey/tsconfig.json',
          './packages/client/tsconfig.json',
          './tsconfig.tests.json',
          './examples/nextjs/tsconfig.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { ...globals.node },
    },
    rules: {
      // Security: every promise is awaited, returned, or explicitly `void`ed with a reason.
      '@typescript-eslint/no-floating-promises': 'error',
      // Security: no promise where a callback's result is ignored or a boolean is expected.
      '@typescript-eslint/no-misused-promises': 'error',
      // An `await` on a non-promise usually means the author thought something was async that is not.
      '@typescript-eslint/await-thenable': 'error',
      // Type imports stay type imports (verbatimModuleSyntax relies on it).
      '@typescript-eslint/consistent-type-imports': 'error',
      // `_`-prefixed names are deliberately unused (positional parameters, destructured rest).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The codebase uses `!` after a check the compiler cannot follow (noUncheckedIndexedAccess).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `declare global { namespace Express { ... } }` is how Express's request type is augmented.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
    },
  },
  // Tests: vitest globals are imported explicitly, so only the relaxations tests need.
  {
    files: ['**/test/**/*.ts'],
    rules: {
      // Fixtures build deliberately malformed values.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  // Ambient declaration files must stay scripts (no top-level import), so they name types with import().
  {
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }] },
  },
  // Browser code (the SDK and the demo's client) runs with DOM globals.
  {
    files: ['packages/client/src/**/*.ts', 'examples/*/public/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
