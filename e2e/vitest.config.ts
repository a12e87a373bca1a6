import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'e2e',
    include: ['tests/**/*.spec.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One browser and one server per file; files run one at a time on a 2-core machine.
    fileParallelism: false,
  },
});
