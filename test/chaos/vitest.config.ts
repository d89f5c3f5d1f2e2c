import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// The chaos suite on its own (docs/reliability.md): `npx vitest run --config test/chaos/vitest.config.ts`.
// Two scenario files at a time, each with servers of its own; a scenario takes minutes.
export default defineConfig({
  test: {
    root: resolve(import.meta.dirname, '../..'),
    include: ['test/chaos/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
  },
});
