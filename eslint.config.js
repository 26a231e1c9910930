// ESLint: typescript-eslint's recommended rules (type-aware where cheap), Prettier owns layout,
// and eslint-plugin-boundaries enforces the layering written in ARCHITECTURE.md.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import boundaries from 'eslint-plugin-boundaries';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Which folder of `src/` may import which (besides itself). This table is the layering of
 * ARCHITECTURE.md; a folder missing from a list is a wrong-way import and fails `npm run lint`.
 * Leaves first: a folder only lists folders above it in this table.
 */
const layers = {
  // Leaves: secrets, time, one-line errors, the openrtc attribute names, the load model.
  secrets: [],
  clock: [],
  errors: ['secrets'],
  protocol: [],
  load: [],
  // Tenant ids, metadata parsing, per-tenant config. No I/O beyond the operator's own loader.
  tenancy: ['clock', 'errors', 'secrets'],
  // The identity of the running session (AsyncLocalStorage), read by logs and attribution.
  scope: ['tenancy'],
  logging: ['errors', 'scope', 'secrets', 'tenancy'],
  // Fleet state shared between workers. Admission depends on the store's interface; only this
  // folder may talk to Redis (see the restricted imports below). It still reads the breaker's
  // settings and view types from admission: a cycle to remove by moving those types down.
  store: ['admission', 'clock', 'errors', 'secrets', 'tenancy'],
  // The single decision point: pure logic on an injected clock and store.
  admission: ['clock', 'errors', 'secrets', 'store', 'tenancy'],
  inference: ['errors', 'logging', 'clock'],
  // When a long-lived worker should hand over: pure policy and a monitor on an injected clock.
  recycle: ['clock', 'introspection'],
  introspection: ['admission', 'errors', 'inference', 'scope', 'secrets', 'tenancy'],
  session: [
    'admission',
    'errors',
    'inference',
    'introspection',
    'logging',
    'protocol',
    'scope',
    'secrets',
    'tenancy',
  ],
  worker: ['admission', 'clock', 'errors', 'load', 'protocol', 'secrets', 'session'],
  dispatcher: ['errors', 'protocol', 'secrets'],
  ipc: ['errors', 'secrets'],
  http: ['admission', 'errors', 'inference', 'introspection', 'load', 'worker'],
  metrics: ['admission', 'load', 'recycle'],
  config: ['admission', 'clock', 'errors', 'secrets', 'session', 'tenancy'],
  control: ['admission', 'config', 'errors', 'introspection', 'ipc', 'secrets', 'tenancy'],
  top: ['control', 'errors', 'introspection', 'ipc'],
  // Forks and restarts workers (`--workers N`); knows workers only by the exit codes and messages.
  supervisor: ['clock', 'config', 'protocol'],
  // Composition root: builds one worker from every part.
  runtime: [
    'admission',
    'clock',
    'config',
    'control',
    'dispatcher',
    'errors',
    'http',
    'inference',
    'introspection',
    'ipc',
    'load',
    'logging',
    'metrics',
    'protocol',
    'recycle',
    'scope',
    'secrets',
    'session',
    'store',
    'supervisor',
    'tenancy',
    'worker',
  ],
  // Commands: talk to a live worker through control and ipc, or start one through runtime.
  cli: [
    'clock',
    'config',
    'control',
    'dispatcher',
    'errors',
    'introspection',
    'ipc',
    'logging',
    'protocol',
    'runtime',
    'secrets',
    'store',
    'supervisor',
    'tenancy',
    'top',
  ],
};

const boundaryElements = Object.keys(layers).map((folder) => ({
  type: folder,
  pattern: `src/${folder}`,
}));

const boundaryPolicies = Object.entries(layers).map(([folder, allowed]) => ({
  from: { element: { type: folder } },
  allow: { to: { element: { types: [folder, ...allowed] } } },
}));

const redisClients = {
  paths: [
    { name: 'ioredis', message: 'Only src/store/ talks to Redis; depend on the store interface.' },
    { name: 'redis', message: 'Only src/store/ talks to Redis; depend on the store interface.' },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      '.livekit/',
      'bench/results/',
      'bench/density/.build/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Type-aware checks that catch real bugs in async code, cheap enough to run on every file.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // A closure that reads a variable assigned just after it is built (a session's teardown
      // hook) cannot use const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Tests assert on terminal output, so they match escape sequences on purpose.
    files: ['test/**'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx', 'src/**/*.js'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': boundaryElements,
      'import/resolver': { typescript: { project: './tsconfig.json' }, node: true },
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies: boundaryPolicies }],
      'no-restricted-imports': ['error', redisClients],
    },
  },
  {
    // agents-js private fields: touched only in session/job-context.ts, so an upgrade checks one file.
    files: ['src/**'],
    ignores: ['src/session/job-context.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'MemberExpression[property.name=/^(_primaryAgentSession|_started|_onSessionEnd)$/]',
          message: 'agents-js private field: use the accessor in session/job-context.ts.',
        },
      ],
    },
  },
  {
    files: ['src/store/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  prettier,
);
