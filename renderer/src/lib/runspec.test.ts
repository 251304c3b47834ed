import { describe, expect, it } from 'vitest';

import { DEFAULT_NAMESPACES, specFromForm, type RunForm } from './runspec';

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
  ...over,
});

describe('specFromForm', () => {
  it('maps every field like berth run does', () => {
    const spec = specFromForm(
      form({ command: `sh -c 'sleep 60'`, name: 'web', env: 'A=1\nB=2', memory: '64m', cpus: '0.5', pids: '32', hostname: 'h', tty: true, interactive: true, autoRemove: true, namespaces: { ...DEFAULT_NAMESPACES, net: false } }),
    );
    expect(spec).toEqual({
      image: 'busybox:latest',
      cmd: ['sh', '-c', 'sleep 60'],
      name: 'web',
      env: ['A=1', 'B=2'],
      hostname: 'h',
      limits: { memory: 64 * 1024 * 1024, cpus: 0.5, pids: 32 },
      namespaces: { pid: true, mount: true, uts: true, ipc: true, net: false, cgroup: true, user: false },
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
