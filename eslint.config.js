import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.skiff/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Modules talk to each other only through their index.ts.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(?:src/)?(?!src/)[\\w-]+/(?!index\\.js$).+$',
              message: 'Import another module only through its index.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // The one exception: a lab proxy process (src/lab/apps/proxy-main.ts) must not load the xDS config
    // generators, the ADS server and what they pull in (api, registry, model, yaml, prom-client) — module
    // loading is most of a proxy's start-up CPU and a cold `skiff up` starts every pod at once. These files
    // reach past the xds index for the ADS client, the type URLs and the config-dump layout only.
    files: [
      'src/lab/proxy-runtime.ts',
      'src/proxy/admin.ts',
      'src/proxy/admin-config-dump.ts',
      'src/xds/client/node.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(?!\\.\\./xds/(?:client/index|protos|generate/config-dump)\\.js$|\\.\\./generate/proxy\\.js$)(\\.\\./)+(?:src/)?(?!src/)[\\w-]+/(?!index\\.js$).+$',
              message: 'Import another module only through its index.ts.',
            },
          ],
        },
      ],
    },
  },
);
