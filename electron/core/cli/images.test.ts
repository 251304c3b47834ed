import { describe, expect, it } from 'vitest';

import { historyRows } from './images';

describe('historyRows', () => {
  const id = `sha256:${'d4'.repeat(32)}`;
  const layer = (unpackedSize: number) => ({ digest: 'sha256:x', diffId: 'sha256:y', size: 1, unpackedSize });

  it('pairs non-empty history entries with the layers, newest first, the id on top', () => {
    const rows = historyRows({
      id,
      created: '2026-01-01T00:00:00Z',
      config: {
        history: [
          { created: '2026-01-01T00:00:00Z', created_by: 'ADD rootfs' },
          { created: '2026-01-01T00:00:01Z', created_by: 'CMD ["sh"]', empty_layer: true },
          { created: '2026-01-01T00:00:02Z', created_by: 'berth commit', comment: 'msg' },
        ],
      },
      layers: [layer(100), layer(7)],
    });
    expect(rows).toEqual([
      { id, created: '2026-01-01T00:00:02Z', createdBy: 'berth commit', comment: 'msg', emptyLayer: false, size: 7 },
      { id: '<missing>', created: '2026-01-01T00:00:01Z', createdBy: 'CMD ["sh"]', comment: '', emptyLayer: true, size: 0 },
      { id: '<missing>', created: '2026-01-01T00:00:00Z', createdBy: 'ADD rootfs', comment: '', emptyLayer: false, size: 100 },
    ]);
  });

  it('shows layers the history does not describe', () => {
    const rows = historyRows({ id, created: '2026-01-01T00:00:00Z', config: {}, layers: [layer(5)] });
    expect(rows).toEqual([{ id, created: '2026-01-01T00:00:00Z', createdBy: '', comment: '', emptyLayer: false, size: 5 }]);
  });
});
