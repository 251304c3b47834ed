import { describe, expect, it } from 'vitest';

import { parseArgs, UsageError } from './args';
import { parseMountFlag, parseRestartFlag, parseTmpfsFlag, parseVolumeFlag, storageSpec } from './storage-args';

describe('-v', () => {
  it('an absolute or ./relative source is a bind, a name is a volume', () => {
    expect(parseVolumeFlag('/srv/data:/data', '/home/me')).toEqual({ type: 'bind', source: '/srv/data', target: '/data' });
    expect(parseVolumeFlag('./src:/src:ro', '/home/me')).toEqual({ type: 'bind', source: '/home/me/src', target: '/src', readOnly: true });
    expect(parseVolumeFlag('cache:/var/cache:rw', '/')).toEqual({ type: 'volume', source: 'cache', target: '/var/cache' });
  });
  it('a lone absolute container path is an anonymous volume (docker)', () => {
    expect(parseVolumeFlag('/data', '/home/me')).toEqual({ type: 'volume', target: '/data' });
    expect(parseVolumeFlag('/var/lib/db', '/')).toEqual({ type: 'volume', target: '/var/lib/db' });
    // a mode needs a source, as in docker; a relative lone path is neither
    expect(() => parseVolumeFlag('/data:ro', '/')).toThrow(/absolute/);
    expect(() => parseVolumeFlag('data', '/')).toThrow(/CONTAINER-PATH \(an anonymous volume\)/);
    expect(() => parseVolumeFlag('', '/')).toThrow(/HOST-PATH:CONTAINER-PATH/);
  });
  it('refuses a bad shape, a relative target, an unknown option and a bad name', () => {
    expect(() => parseVolumeFlag('only', '/')).toThrow(/HOST-PATH:CONTAINER-PATH/);
    expect(() => parseVolumeFlag('/a:rel', '/')).toThrow(/absolute/);
    expect(() => parseVolumeFlag('/a:/b:z', '/')).toThrow(/unknown option 'z'/);
    expect(() => parseVolumeFlag('bad name:/b', '/')).toThrow(/neither/);
  });
});

describe('--mount, --tmpfs, --restart', () => {
  it('parses docker-style --mount fields', () => {
    expect(parseMountFlag('type=bind,source=/a,target=/b,readonly', '/')).toEqual({ type: 'bind', source: '/a', target: '/b', readOnly: true });
    expect(parseMountFlag('type=volume,src=v1,dst=/d', '/')).toEqual({ type: 'volume', source: 'v1', target: '/d' });
    expect(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770', '/')).toEqual({ type: 'tmpfs', target: '/t', size: 64 * 1024 * 1024, mode: 0o1770 });
    expect(() => parseMountFlag('type=bind,source=rel,target=/b', '/')).toThrow(/absolute/);
    expect(() => parseMountFlag('type=nfs,source=/a,target=/b', '/')).toThrow(/type must be/);
    expect(() => parseMountFlag('type=bind,source=/a', '/')).toThrow(/target=/);
    expect(() => parseMountFlag('type=bind,source=/a,target=/b,colour=red', '/')).toThrow(/unknown key/);
  });
  it('a volume --mount without source is anonymous; a bind still needs one', () => {
    expect(parseMountFlag('type=volume,target=/data', '/')).toEqual({ type: 'volume', target: '/data' });
    expect(parseMountFlag('target=/data,readonly', '/')).toEqual({ type: 'volume', target: '/data', readOnly: true });
    expect(() => parseMountFlag('type=bind,target=/data', '/')).toThrow(/source= is missing/);
    expect(() => parseMountFlag('type=volume,target=data', '/')).toThrow(/absolute/);
  });
  it('parses --tmpfs options', () => {
    expect(parseTmpfsFlag('/run')).toEqual({ type: 'tmpfs', target: '/run' });
    expect(parseTmpfsFlag('/run:size=1m,mode=755,ro')).toEqual({ type: 'tmpfs', target: '/run', size: 1024 * 1024, mode: 0o755, readOnly: true });
    expect(() => parseTmpfsFlag('/run:noexec')).toThrow(/unknown option/);
  });
  it('parses restart policies', () => {
    expect(parseRestartFlag('no')).toEqual({ policy: 'no' });
    expect(parseRestartFlag('on-failure')).toEqual({ policy: 'on-failure' });
    expect(parseRestartFlag('on-failure:3')).toEqual({ policy: 'on-failure', maxRetries: 3 });
    expect(parseRestartFlag('unless-stopped')).toEqual({ policy: 'unless-stopped' });
    expect(() => parseRestartFlag('always:2')).toThrow(/only on-failure/);
    expect(() => parseRestartFlag('sometimes')).toThrow(/use no/);
  });
  it('refuses --rm with a policy and two mounts on one target', () => {
    expect(() => storageSpec({ volumes: [], mounts: [], tmpfs: [], restart: 'always', autoRemove: true }, '/')).toThrow(/--rm and --restart/);
    expect(storageSpec({ volumes: [], mounts: [], tmpfs: [], restart: 'no', autoRemove: true }, '/')).toEqual({ restart: { policy: 'no' } });
    expect(() => storageSpec({ volumes: ['/a:/x'], mounts: [], tmpfs: ['/x'], autoRemove: false }, '/')).toThrow(/two mounts on \/x/);
    expect(() => storageSpec({ volumes: ['/x'], mounts: ['type=volume,target=/x'], tmpfs: [], autoRemove: false }, '/')).toThrow(/two mounts on \/x/);
  });
});

describe('berth run, restart and volume verbs', () => {
  it('puts the flags into the spec', () => {
    const cmd = parseArgs(['run', '-v', '/a:/a:ro', '-v', 'vol:/v', '-v', '/anon', '--tmpfs', '/t:size=1m', '--mount', 'type=tmpfs,target=/u', '--restart', 'on-failure:2', 'busybox', 'true']);
    expect(cmd.verb).toBe('run');
    if (cmd.verb !== 'run') return;
    expect(cmd.spec.mounts).toEqual([
      { type: 'bind', source: '/a', target: '/a', readOnly: true },
      { type: 'volume', source: 'vol', target: '/v' },
      { type: 'volume', target: '/anon' },
      { type: 'tmpfs', target: '/u' },
      { type: 'tmpfs', target: '/t', size: 1024 * 1024 },
    ]);
    expect(cmd.spec.restart).toEqual({ policy: 'on-failure', maxRetries: 2 });
    expect(() => parseArgs(['run', '--rm', '--restart', 'always', 'busybox'])).toThrow(UsageError);
  });
  it('parses restart and the volume subcommands', () => {
    expect(parseArgs(['restart', '-t', '3', 'a', 'b'])).toEqual({ verb: 'restart', refs: ['a', 'b'], timeout: 3 });
    expect(parseArgs(['volume', 'create', 'data', '--json'])).toEqual({ verb: 'volume create', name: 'data', json: true });
    expect(parseArgs(['volume', 'create'])).toEqual({ verb: 'volume create', json: false });
    expect(parseArgs(['volume', 'ls', '-q'])).toEqual({ verb: 'volume ls', quiet: true, json: false });
    expect(parseArgs(['volume', 'rm', '-f', 'a', 'b'])).toEqual({ verb: 'volume rm', names: ['a', 'b'], force: true });
    expect(parseArgs(['volume', 'inspect', 'a'])).toEqual({ verb: 'volume inspect', names: ['a'] });
    expect(parseArgs(['volume', 'prune', '-f'])).toEqual({ verb: 'volume prune', all: false, force: true, json: false });
    expect(parseArgs(['volume', 'prune', '-af', '--json'])).toEqual({ verb: 'volume prune', all: true, force: true, json: true });
    expect(parseArgs(['volume', 'prune', '--all'])).toEqual({ verb: 'volume prune', all: true, force: false, json: false });
    expect(parseArgs(['volume'])).toEqual({ verb: 'help', topic: 'volume' });
    expect(parseArgs(['help', 'volume', 'ls'])).toEqual({ verb: 'help', topic: 'volume ls' });
    expect(() => parseArgs(['volume', 'frob'])).toThrow(/unknown command 'volume frob'/);
    expect(() => parseArgs(['volume ls'])).toThrow(/unknown command/);
  });
});

describe('rm -v and --change VOLUME', () => {
  it('rm takes -v/--volumes', () => {
    expect(parseArgs(['rm', 'a'])).toEqual({ verb: 'rm', refs: ['a'], force: false, volumes: false });
    expect(parseArgs(['rm', '-fv', 'a', 'b'])).toEqual({ verb: 'rm', refs: ['a', 'b'], force: true, volumes: true });
    expect(parseArgs(['rm', '--volumes', 'a'])).toEqual({ verb: 'rm', refs: ['a'], force: false, volumes: true });
  });
  it('import --change VOLUME adds config.Volumes entries', () => {
    const cmd = parseArgs(['import', '--change', 'VOLUME /data /logs', '-c', 'VOLUME ["/db"]', '/tmp/x.tar', 'img']);
    expect(cmd).toMatchObject({ verb: 'import', config: { Volumes: { '/data': {}, '/logs': {}, '/db': {} } } });
    expect(() => parseArgs(['import', '--change', 'VOLUME data', '/tmp/x.tar', 'img'])).toThrow(/absolute/);
  });
});
