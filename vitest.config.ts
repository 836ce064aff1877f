import { configDefaults, defineConfig } from 'vitest/config';

const HOSTILE = 'test/integration/hostile-input.test.ts';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers and spawn the CLI; two cores do not gain from more forks.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, HOSTILE],
          sequence: { groupOrder: 0 },
        },
      },
      // The hostile-input suite asserts that no request stalls the gateway's event loop past 100 ms:
      // it runs alone, after the rest, so that the other suites' CPU does not count as a stall.
      { extends: true, test: { name: 'hostile', include: [HOSTILE], sequence: { groupOrder: 1 } } },
    ],
  },
});
