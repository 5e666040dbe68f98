import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.venv*/', 'lake/', 'logs/', 'coverage/', 'spark-jobs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read the environment only in src/config/environment.ts.' },
      ],
    },
  },
  {
    files: ['src/config/environment.ts', 'test/**/*.{ts,mjs}', 'bench/**/*.{ts,mjs}', 'bin/**/*.js'],
    languageOptions: { globals: { setInterval: 'readonly', setTimeout: 'readonly', setImmediate: 'readonly' } },
    rules: { 'no-restricted-properties': 'off' },
  },
);
