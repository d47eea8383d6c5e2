import { defineConfig } from 'vitest/config';

export default defineConfig({
  // A custom handler module's `import … from 'metronome'` gets src/*.ts (package.json's "development"
  // condition), never a dist/ that may be stale or not built, whatever NODE_ENV says.
  ssr: { resolve: { conditions: ['development', 'module', 'node'] } },
  test: {
    // handlers/: the tests `npm run new-handler` writes beside a checkout's own handler modules.
    include: ['test/**/*.test.ts', 'handlers/**/*.test.ts'],
    environment: 'node',
    // Each file gets its own worker so fake timers, databases and emulators never leak between files.
    pool: 'forks',
    testTimeout: 10_000,
    hookTimeout: 10_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
