// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'constants', 'crypto', 'dgram',
  'diagnostics_channel', 'dns', 'domain', 'events', 'fs', 'fs/promises', 'http', 'http2', 'https', 'inspector',
  'module', 'net', 'os', 'path', 'perf_hooks', 'process', 'punycode', 'querystring', 'readline', 'repl',
  'stream', 'string_decoder', 'timers', 'tls', 'trace_events', 'tty', 'url', 'util', 'v8', 'vm', 'wasi',
  'worker_threads', 'zlib',
];

const noElectron = { name: 'electron', message: 'Only src/main and src/preload may import electron (DESIGN.md: layers).' };
const noNodePatterns = [
  { group: ['node:*'], message: 'renderer and shared run in a browser: no node: modules (DESIGN.md: layers).' },
];
const noNodeNames = NODE_BUILTINS.map((name) => ({ name, message: 'renderer and shared run in a browser: no Node built-ins.' }));

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.mjs', 'bench/**/*.mjs', 'tests/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', Buffer: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
  },
  {
    files: ['src/core/**', 'src/server/**', 'src/cli/**', 'src/helper/**', 'src/peer/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron], patterns: [{ group: ['**/main/**', '**/renderer/**', '**/preload/**'], message: 'core-side code never reaches up into the shells.' }] }],
    },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron, ...noNodeNames], patterns: [...noNodePatterns, { group: ['**/core/**', '**/main/**', '**/renderer/**', '**/server/**'], message: 'shared depends on nothing but zod.' }] }],
    },
  },
  {
    files: ['src/renderer/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron, ...noNodeNames], patterns: [...noNodePatterns, { group: ['**/core/**', '**/main/**', '**/server/**', '**/preload/**'], message: 'the renderer talks to the host only through the API client.' }] }],
    },
  },
  {
    files: ['src/preload/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/core/**', '**/server/**', '**/renderer/**'], message: 'preload exposes the transport only.' }] }],
    },
  },
);
