import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    setupFiles: ['tests/helpers/yield-between-tests.ts', 'tests/helpers/scratch.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Boot tests each keep a core busy; the machine has two.
    maxWorkers: 2,
  },
});
