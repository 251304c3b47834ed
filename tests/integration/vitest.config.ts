// Integration tests: real containers through the real CLI and a sanitized berthd.
// Run as root: npx vitest run --config tests/integration/vitest.config.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// One file after another in name order, restart*.test.ts and faults.test.ts last:
// they replace the helper, and everything before them then runs against the
// helper started first.
class ByNameRestartLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const key = (f: TestSpecification): [number, string] => {
      const base = path.basename(f.moduleId);
      return [base.startsWith('restart') || base.startsWith('faults') ? 1 : 0, base];
    };
    return [...files].sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      return ka[0] - kb[0] || (ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0);
    });
  }
}

export default defineConfig({
  root: repo,
  test: {
    include: ['tests/integration/**/*.test.ts'],
    globalSetup: ['tests/integration/global-setup.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 90_000,
    hookTimeout: 120_000,
    teardownTimeout: 120_000,
    sequence: { sequencer: ByNameRestartLast },
  },
});
