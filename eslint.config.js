// ESLint flat config: `npm run lint` (with dependency-cruiser for the import boundaries).
// @eslint/js recommended everywhere; typescript-eslint strictTypeChecked for the TypeScript
// sources, type-aware through the project service (the programs of tsconfig.json).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The Node.js globals the plain JavaScript files (scripts/*.mjs, the tool configs) use. TypeScript
// files get theirs from @types/node, and typescript-eslint turns no-undef off for them.
const NODE_GLOBALS = {
  AbortController: 'readonly',
  AbortSignal: 'readonly',
  Buffer: 'readonly',
  URL: 'readonly',
  URLSearchParams: 'readonly',
  TextDecoder: 'readonly',
  TextEncoder: 'readonly',
  clearImmediate: 'readonly',
  clearInterval: 'readonly',
  clearTimeout: 'readonly',
  console: 'readonly',
  fetch: 'readonly',
  performance: 'readonly',
  process: 'readonly',
  queueMicrotask: 'readonly',
  setImmediate: 'readonly',
  setInterval: 'readonly',
  setTimeout: 'readonly',
  structuredClone: 'readonly',
};

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'coverage/', 'bench/results/', 'test/fixtures/', 'data/']),
  {
    files: ['**/*.{ts,tsx,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 'latest', globals: NODE_GLOBALS },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    files: ['**/*.{ts,tsx,mts,cts}'],
    extends: [tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test(), it(), describe() and suite() return promises the runner itself awaits;
      // flagging each call is noise. A subtest's t.test() is still flagged: that one must be awaited.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // Numbers print the same everywhere (sizes, ports, status codes in messages); the rule still
      // catches undefined, unknown, objects and the like.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(chunk) => out.push(chunk)`, `() => resolve()`: a one-line callback is not a confusing void.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Ports are async (a disk, S3 or Redis backend awaits); an in-memory implementation or a
      // test fake meets the same signature without awaiting anything.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
