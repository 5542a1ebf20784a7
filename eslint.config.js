// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importBoundaryOptions } from './eslint-rules/boundaries.js';
import { layout } from './eslint.layout.config.js';
import vifd from './eslint-rules/import-boundaries.js';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and typed values in template strings are how errors and names are built.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // An empty catch hides failures (design: no catch {} that hides a failure).
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  // The formatter's layout rules (eslint.layout.config.js; `make fmt` applies them).
  ...layout,
  {
    // Which folder may import which, and what the hook programs must never load.
    files: ['src/**/*.ts'],
    plugins: { vifd },
    rules: { 'vifd/import-boundaries': ['error', importBoundaryOptions(import.meta.dirname)] },
  },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts', 'lab/**/*.ts', 'eslint-rules/**/*.js'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // `it('...', () => assert.x(...))` is mocha's idiom; fixtures index arrays they built.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
);
