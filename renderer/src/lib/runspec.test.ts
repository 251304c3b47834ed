import { describe, expect, it } from 'vitest';

import { DEFAULT_NAMESPACES, emptyMountRow, emptyPortRow, mountsFromRows, portsFromRows, restartFromForm, specFromForm, type RunForm } from './runspec';

const form = (over: Partial<RunForm> = {}): RunForm => ({
  image: 'busybox:latest',
  command: '',
  name: '',
  env: '',
  memory: '',
  cpus: '',
  pids: '',
  hostname: '',
  namespaces: { ...DEFAULT_NAMESPACES },
  tty: false,
  interactive: false,
  autoRemove: false,
  network: 'bridge',
  ports: [emptyPortRow()],
  mounts: [],
  restart: { policy: 'no', maxRetries: '' },
  ...over,
});

describe('specFromForm', () => {
  it('maps every field like berth run does', () => {
    const spec = specFromForm(
      form({ command: `sh -c 'sleep 60'`, name: 'web', env: 'A=1\nB=2', memory: '64m', cpus: '0.5', pids: '32', hostname: 'h', tty: true, interactive: true, autoRemove: true, network: 'host', namespaces: { ...DEFAULT_NAMESPACES, uts: false } }),
    );
    expect(spec).toEqual({
      image: 'busybox:latest',
      cmd: ['sh', '-c', 'sleep 60'],
      name: 'web',
      env: ['A=1', 'B=2'],
      hostname: 'h',
      limits: { memory: 64 * 1024 * 1024, cpus: 0.5, pids: 32 },
      namespaces: { pid: true, mount: true, uts: false, ipc: true, net: false, cgroup: true, user: false },
      network: 'host',
      tty: true,
      stdin: true,
      autoRemove: true,
    });
  });

  it('leaves out what was not given (the image decides)', () => {
    const spec = specFromForm(form());
    expect(spec.cmd).toBeUndefined();
    expect(spec.limits).toBeUndefined();
    expect(spec.name).toBeUndefined();
  });

  it('says which field is wrong', () => {
    expect(() => specFromForm(form({ image: ' ' }))).toThrow(/image/);
    expect(() => specFromForm(form({ name: '../x' }))).toThrow(/name/);
    expect(() => specFromForm(form({ memory: 'lots' }))).toThrow(/size/);
    expect(() => specFromForm(form({ cpus: '0' }))).toThrow(/CPUs/);
    expect(() => specFromForm(form({ pids: '1.5' }))).toThrow(/PIDs/);
  });
});

describe('network, ports, mounts and restart in the spec', () => {
  it('leaves the default bridge network out and keeps net on', () => {
    const spec = specFromForm(form());
    expect(spec.network).toBeUndefined();
    expect(spec.namespaces?.net).toBe(true);
    expect(spec.ports).toBeUndefined();
    expect(spec.restart).toBeUndefined();
    expect(specFromForm(form({ network: 'lab', namespaces: { ...DEFAULT_NAMESPACES, net: false } })).namespaces?.net).toBe(true);
    expect(specFromForm(form({ network: 'none' })).network).toBe('none');
  });

  it('publishes ports: 127.0.0.1 by default, the host port defaults to the container port, empty rows skipped', () => {
    expect(
      portsFromRows([
        { hostIp: '', hostPort: '8080', containerPort: '80', protocol: 'tcp' },
        { hostIp: '0.0.0.0', hostPort: '', containerPort: '53', protocol: 'udp' },
        emptyPortRow(),
      ]),
    ).toEqual([
      { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: 53, containerPort: 53, protocol: 'udp' },
    ]);
    // The same port over tcp and udp is two sockets, fine.
    expect(portsFromRows([{ ...emptyPortRow(), containerPort: '53' }, { ...emptyPortRow(), containerPort: '53', protocol: 'udp' }])).toHaveLength(2);
  });

  it('says what is wrong with a port', () => {
    expect(() => portsFromRows([{ ...emptyPortRow(), hostPort: '80' }])).toThrow(/container port/);
    expect(() => portsFromRows([{ ...emptyPortRow(), containerPort: '70000' }])).toThrow(/1 to 65535/);
    expect(() => portsFromRows([{ ...emptyPortRow(), containerPort: '8o' }])).toThrow(/8o/);
    expect(() => portsFromRows([{ ...emptyPortRow(), hostIp: 'localhost', containerPort: '80' }])).toThrow(/IPv4/);
    expect(() => portsFromRows([{ ...emptyPortRow(), hostPort: '80', containerPort: '80' }, { ...emptyPortRow(), hostIp: '0.0.0.0', hostPort: '80', containerPort: '81' }])).toThrow(/twice/);
    expect(() => specFromForm(form({ network: 'host', ports: [{ ...emptyPortRow(), containerPort: '80' }] }))).toThrow(/bridge or a user network/);
  });

  it('turns mount rows into bind, volume and tmpfs mounts', () => {
    expect(
      mountsFromRows([
        { type: 'bind', source: '/srv/www/', target: '/www', readOnly: true, size: '' },
        { type: 'volume', source: 'data', target: '/data', readOnly: false, size: '' },
        { type: 'tmpfs', source: '', target: '/tmp', readOnly: false, size: '64m' },
        { type: 'tmpfs', source: '', target: '/run', readOnly: false, size: '' },
        emptyMountRow('volume'),
      ]),
    ).toEqual([
      { type: 'bind', source: '/srv/www', target: '/www', readOnly: true },
      { type: 'volume', source: 'data', target: '/data' },
      { type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024 },
      { type: 'tmpfs', target: '/run' },
    ]);
  });

  it('a volume row without a name is an anonymous volume', () => {
    expect(mountsFromRows([{ ...emptyMountRow('volume'), target: '/data/' }, { ...emptyMountRow('volume'), source: '  ', target: '/cache', readOnly: true }])).toEqual([
      { type: 'volume', target: '/data' },
      { type: 'volume', target: '/cache', readOnly: true },
    ]);
    expect(() => mountsFromRows([{ ...emptyMountRow('volume'), target: 'data' }])).toThrow(/in the container.*absolute/);
  });

  it('says what is wrong with a mount', () => {
    expect(() => mountsFromRows([{ ...emptyMountRow('bind'), source: 'www', target: '/www' }])).toThrow(/host path.*absolute/);
    expect(() => mountsFromRows([{ ...emptyMountRow('bind'), source: '/www', target: 'www' }])).toThrow(/in the container.*absolute/);
    expect(() => mountsFromRows([{ ...emptyMountRow('bind'), source: '/www', target: '/a/../etc' }])).toThrow(/\.\./);
    expect(() => mountsFromRows([{ ...emptyMountRow('volume'), source: 'a b', target: '/data' }])).toThrow(/volume name/);
    expect(() => mountsFromRows([{ ...emptyMountRow('tmpfs'), target: '/' }])).toThrow(/root/);
    expect(() => mountsFromRows([{ ...emptyMountRow('tmpfs'), target: '/t' }, { ...emptyMountRow('tmpfs'), target: '/t/' }])).toThrow(/Two mounts/);
    expect(() => mountsFromRows([{ ...emptyMountRow('tmpfs'), target: '/t', size: 'big' }])).toThrow(/size/);
  });

  it('maps the restart policy, max retries for on-failure only', () => {
    expect(restartFromForm({ policy: 'no', maxRetries: '5' })).toBeNull();
    expect(restartFromForm({ policy: 'always', maxRetries: '5' })).toEqual({ policy: 'always' });
    expect(restartFromForm({ policy: 'on-failure', maxRetries: '3' })).toEqual({ policy: 'on-failure', maxRetries: 3 });
    expect(restartFromForm({ policy: 'on-failure', maxRetries: '0' })).toEqual({ policy: 'on-failure' });
    expect(() => restartFromForm({ policy: 'on-failure', maxRetries: '-1' })).toThrow(/whole number/);
    expect(specFromForm(form({ restart: { policy: 'unless-stopped', maxRetries: '' } })).restart).toEqual({ policy: 'unless-stopped' });
    expect(() => specFromForm(form({ autoRemove: true, restart: { policy: 'always', maxRetries: '' } }))).toThrow(/removed when it exits/);
  });
});
