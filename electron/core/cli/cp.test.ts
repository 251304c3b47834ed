import { describe, expect, it } from 'vitest';

import { parseArgs } from './args';
import { containerPath, parseCpOperand } from './cp';

describe('berth cp operands', () => {
  it("tells CONTAINER:PATH from a local path by docker's rule", () => {
    expect(parseCpOperand('web:/etc/nginx')).toEqual({ container: 'web', path: '/etc/nginx' });
    expect(parseCpOperand('web:etc')).toEqual({ container: 'web', path: 'etc' });
    expect(parseCpOperand('./a:b')).toEqual({ local: './a:b' });
    expect(parseCpOperand('/tmp/a:b')).toEqual({ local: '/tmp/a:b' });
    expect(parseCpOperand('notes.txt')).toEqual({ local: 'notes.txt' });
    expect(parseCpOperand('-')).toEqual({ local: '-' });
    expect(parseCpOperand(':x')).toEqual({ local: ':x' });
  });

  it('starts relative container paths at its root and drops trailing slashes', () => {
    expect(containerPath('etc/hosts')).toBe('/etc/hosts');
    expect(containerPath('/tmp/')).toBe('/tmp');
    expect(containerPath('/')).toBe('/');
    expect(containerPath('')).toBe('/');
  });

  it('parses the verb: two operands, -a', () => {
    expect(parseArgs(['cp', 'a.txt', 'web:/tmp'])).toEqual({ verb: 'cp', source: 'a.txt', destination: 'web:/tmp', archive: false });
    expect(parseArgs(['cp', '-a', '-', 'web:/tmp'])).toEqual({ verb: 'cp', source: '-', destination: 'web:/tmp', archive: true });
    expect(parseArgs(['container', 'cp', 'web:/x', '.'])).toMatchObject({ verb: 'cp', source: 'web:/x', destination: '.' });
    expect(() => parseArgs(['cp', 'a'])).toThrow(/cp needs a SRC and a DEST/);
    expect(() => parseArgs(['cp', 'a', 'b', 'c'])).toThrow(/takes no argument 'c'/);
  });
});
