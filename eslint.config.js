// Lint: typescript-eslint's type-checked recommended rules over src/, test/, bench/ and web/
// (the console, type-checked against its own tsconfig with the DOM's types).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.bench-cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A variable assigned once, after a closure that reads it was made, cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Fastify route handlers are async by contract, awaited or not.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Deep imports into a package reach its private files; import what it exports.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.name='require'] CallExpression[callee.property.name='resolve']",
          message: 'no loading of a package’s internal files by path',
        },
      ],
    },
  },
  {
    files: ['web/**/*.{ts,tsx}'],
    languageOptions: {
      parserOptions: { projectService: false, project: ['./web/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // expect.any(), expect.stringMatching() and friends are typed `any` by vitest.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
