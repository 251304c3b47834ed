// End-to-end tests: the real UI in Debian's Chromium (playwright-core), served by web
// mode, against a real berthd and real containers. Run as root:
//   BERTHD=/path/to/berthd-asan npx vitest run -c e2e/vitest.config.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default defineConfig({
  root: repo,
  test: {
    include: ['e2e/**/*.test.ts'],
    globalSetup: ['e2e/global-setup.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 90_000,
    hookTimeout: 180_000,
    teardownTimeout: 120_000,
  },
});
