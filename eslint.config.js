// @ts-check
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';
import { importBoundaryOptions } from './eslint-rules/boundaries.js';
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
  // The formatter: layout rules only, fixed by `make fmt` (eslint --fix --fix-type layout).
  // Set to the code's own style (long lines, one-line callbacks, hanging ternaries), so
  // keeping it changes few lines; lines are not re-wrapped.
  stylistic.configs.customize({
    indent: 2, quotes: 'single', semi: true, jsx: false, braceStyle: '1tbs', commaDangle: 'always-multiline', arrowParens: true, blockSpacing: true, quoteProps: 'as-needed',
  }),
  {
    rules: {
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/operator-linebreak': ['error', 'before', { overrides: { '+': 'after', '+=': 'after', '=': 'ignore' } }],
      '@stylistic/multiline-ternary': 'off',
      '@stylistic/max-statements-per-line': 'off',
    },
  },
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
