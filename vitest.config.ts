import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Each file gets its own worker so fake timers, databases and emulators never leak between files.
    pool: 'forks',
    testTimeout: 10_000,
    hookTimeout: 10_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
