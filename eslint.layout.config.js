// @ts-check
// The formatter: eslint's layout rules (@stylistic) and nothing else. `make lint`
// checks them with every other rule (eslint.config.js imports `layout`); `make fmt`
// applies them with this file alone, which needs no type information and so is fast.
// Set to the code's own style (long lines, one-line callbacks, hanging ternaries and
// `+` chains): applying it changes few lines and never re-wraps one.
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export const layout = [
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
];

export default [
  { ignores: ['dist/', 'node_modules/', '.cache/'] },
  // The plugin is registered (no rule of it on) so comments that name its rules stay valid.
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { '@typescript-eslint': tseslint.plugin } },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
  // Only layout is checked here: comments that turn other rules off are not unused.
  { linterOptions: { reportUnusedDisableDirectives: 'off' } },
  ...layout,
];
