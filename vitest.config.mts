import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // --expose-gc lets the finalizer tests force collections.
    execArgv: ['--expose-gc'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
