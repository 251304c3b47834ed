// Unit tests only (no helper, no root): electron/**/*.test.ts and renderer/**/*.test.ts.
// The integration suite has its own config in tests/integration/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['electron/**/*.test.ts', 'renderer/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'tests/**'],
    environment: 'node',
  },
});
