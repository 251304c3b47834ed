import { describe, expect, it } from 'vitest';

import { applyChange, helpText, parseArgs, UsageError, VERBS } from './args';

const parse = (line: string[]) => parseArgs(line, { cwd: '/home/u' });

describe('run', () => {
  it('takes flags up to the image and the rest as the command', () => {
    expect(parse(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi', '--rm'])).toEqual({
      verb: 'run',
      detach: false,
      interactive: false,
      tty: false,
      spec: { image: 'busybox', cmd: ['sh', '-c', 'echo hi', '--rm'], autoRemove: true },
    });
  });

  it('understands -it, -ti, -dit and long forms', () => {
    for (const flags of [['-it'], ['-ti'], ['-i', '-t'], ['--interactive', '--tty']]) {
      const c = parse(['run', ...flags, 'busybox']);
      expect(c).toMatchObject({ verb: 'run', interactive: true, tty: true, detach: false, spec: { tty: true, stdin: true } });
    }
    expect(parse(['run', '-dit', 'busybox'])).toMatchObject({ detach: true, interactive: true, tty: true });
  });

  it('maps every option into the spec', () => {
    const c = parse([
      'run', '-d', '--name', 'web', '-e', 'A=1', '--env=B=2 3', '-m', '64m', '--cpus', '0.5', '--cpu-weight', '200',
      '--pids-limit', '30', '--hostname', 'box', '-u', '1000:1001', '-w', '/tmp', '--entrypoint', '/bin/sh', 'busybox:latest', '-c', 'true',
    ]);
    expect(c).toEqual({
      verb: 'run',
      detach: true,
      interactive: false,
      tty: false,
      spec: {
        image: 'busybox:latest',
        name: 'web',
        cmd: ['-c', 'true'],
        entrypoint: ['/bin/sh'],
        env: ['A=1', 'B=2 3'],
        workdir: '/tmp',
        user: '1000:1001',
        hostname: 'box',
        limits: { memory: 64 * 1024 * 1024, cpus: 0.5, cpuWeight: 200, pids: 30 },
      },
    });
  });

  it('takes values glued to short flags and --flag=value', () => {
    expect(parse(['run', '-m64m', '-eX=y', '--name=n', 'img'])).toMatchObject({ spec: { name: 'n', env: ['X=y'], limits: { memory: 67108864 } } });
    expect(parse(['run', '--memory', '1.5g', 'img'])).toMatchObject({ spec: { limits: { memory: 1.5 * 1024 ** 3 } } });
  });

  it('-e NAME copies the host value and skips unset names', () => {
    process.env.BERTH_TEST_VAR = 'from-host';
    expect(parse(['run', '-e', 'BERTH_TEST_VAR', '-e', 'BERTH_UNSET_VAR_X', 'img'])).toMatchObject({ spec: { env: ['BERTH_TEST_VAR=from-host'] } });
    delete process.env.BERTH_TEST_VAR;
  });

  it('leaves namespaces to the helper unless asked', () => {
    const c = parse(['run', 'img']);
    expect(c.verb === 'run' && c.spec.namespaces).toBe(undefined);
  });

  it('--ns is the exact set; --userns adds user; host flags switch one off', () => {
    expect(parse(['run', '--ns', 'pid,mount', 'img'])).toMatchObject({
      spec: { namespaces: { pid: true, mount: true, uts: false, ipc: false, net: false, cgroup: false, user: false } },
    });
    expect(parse(['run', '--ns', 'mnt,network', 'img'])).toMatchObject({ spec: { namespaces: { mount: true, net: true, pid: false } } });
    expect(parse(['run', '--ns', '', 'img'])).toMatchObject({ spec: { namespaces: { pid: false, mount: false, user: false } } });
    expect(parse(['run', '--userns', 'img'])).toMatchObject({
      spec: { namespaces: { pid: true, mount: true, uts: true, ipc: true, net: true, cgroup: true, user: true } },
    });
    expect(parse(['run', '--pid', 'host', '--network', 'host', '--uts', 'host', '--ipc', 'host', '--cgroupns', 'host', 'img'])).toMatchObject({
      spec: { namespaces: { pid: false, net: false, uts: false, ipc: false, cgroup: false, mount: true, user: false } },
    });
    expect(parse(['run', '--network', 'none', 'img'])).toMatchObject({ spec: { network: 'none', namespaces: { net: true } } });
    expect(parse(['run', '--network', 'backend', 'img'])).toMatchObject({ spec: { network: 'backend', namespaces: { net: true } } });
    expect(parse(['run', '-p', '8080:80', '-p', '0.0.0.0:5353:53/udp', 'img'])).toMatchObject({
      spec: { ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53, protocol: 'udp' }] },
    });
    expect(parse(['network', 'create', '--subnet', '10.90.7.0/24', 'backend'])).toEqual({ verb: 'network create', name: 'backend', subnet: '10.90.7.0/24' });
    expect(parse(['network', 'ls', '--json'])).toEqual({ verb: 'network ls', quiet: false, json: true });
    expect(parse(['port', 'web'])).toEqual({ verb: 'port', ref: 'web', json: false });
    expect(parse(['run', '--ns', 'pid,net', '--network', 'host', 'img'])).toMatchObject({ spec: { namespaces: { pid: true, net: false } } });
  });

  it('refuses bad values with a usage error', () => {
    for (const args of [
      ['run', '--ns', 'pid,time', 'img'],
      ['run', '--pid', 'container:x', 'img'],
      ['run', '-p', '80', 'img'],
      ['run', '-p', '8080:80/sctp', 'img'],
      ['run', '-p', '70000:80', 'img'],
      ['network', 'frob'],
      ['network', 'create'],
      ['run', '-m', 'lots', 'img'],
      ['run', '--cpus', 'half', 'img'],
      ['run', '--pids-limit', '1.5', 'img'],
      ['run', '--name'],
      ['run'],
      ['run', '--rm=true', 'img'],
    ]) {
      expect(() => parse(args), args.join(' ')).toThrow(UsageError);
    }
  });

  it('names the flag and the verb for unknown flags', () => {
    expect(() => parse(['run', '--foo', 'img'])).toThrow('unknown flag --foo for run; see berth help run');
    expect(() => parse(['run', '-x', 'img'])).toThrow('unknown flag -x for run; see berth help run');
    expect(() => parse(['ps', '--bar'])).toThrow('unknown flag --bar for ps; see berth help ps');
  });

  it('-- ends the options', () => {
    expect(parse(['run', '--', '-img-'])).toMatchObject({ spec: { image: '-img-' } });
  });
});

describe('exec', () => {
  it('takes flags before the container, the rest is the command', () => {
    expect(parse(['exec', '-it', '-e', 'A=b', '-u', '0', '-w', '/', 'web', 'sh', '-c', 'ls -l'])).toEqual({
      verb: 'exec',
      interactive: true,
      tty: true,
      params: { ref: 'web', cmd: ['sh', '-c', 'ls -l'], env: ['A=b'], user: '0', workdir: '/', tty: true, stdin: true },
    });
    expect(parse(['exec', 'web', 'ls', '-i'])).toEqual({ verb: 'exec', interactive: false, tty: false, params: { ref: 'web', cmd: ['ls', '-i'] } });
  });
  it('needs a container and a command', () => {
    expect(() => parse(['exec', 'web'])).toThrow(UsageError);
  });
});

describe('the other verbs', () => {
  it('ps', () => {
    expect(parse(['ps'])).toEqual({ verb: 'ps', all: false, quiet: false, json: false });
    expect(parse(['ps', '-aq', '--json'])).toEqual({ verb: 'ps', all: true, quiet: true, json: true });
    expect(() => parse(['ps', 'x'])).toThrow(UsageError);
  });
  it('logs', () => {
    expect(parse(['logs', '-f', '-t', '--tail', '5', 'web'])).toEqual({ verb: 'logs', ref: 'web', follow: true, timestamps: true, tail: 5 });
    expect(parse(['logs', 'web', '--timestamps', '--tail=all'])).toEqual({ verb: 'logs', ref: 'web', follow: false, timestamps: true });
    expect(() => parse(['logs', '--tail', '-1', 'web'])).toThrow(UsageError);
    expect(() => parse(['logs'])).toThrow(UsageError);
  });
  it('stop, kill, rm', () => {
    expect(parse(['stop', '-t', '3', 'a', 'b'])).toEqual({ verb: 'stop', refs: ['a', 'b'], timeout: 3 });
    expect(parse(['stop', 'a'])).toEqual({ verb: 'stop', refs: ['a'] });
    expect(parse(['kill', '-s', 'term', 'a'])).toEqual({ verb: 'kill', refs: ['a'], signal: 'SIGTERM' });
    expect(parse(['kill', '-s', 'SIGUSR1', 'a'])).toEqual({ verb: 'kill', refs: ['a'], signal: 'SIGUSR1' });
    expect(parse(['kill', '--signal', '9', 'a'])).toEqual({ verb: 'kill', refs: ['a'], signal: 9 });
    expect(parse(['kill', 'a'])).toEqual({ verb: 'kill', refs: ['a'] });
    expect(parse(['rm', '-f', 'a', 'b'])).toEqual({ verb: 'rm', refs: ['a', 'b'], force: true, volumes: false });
    expect(() => parse(['rm'])).toThrow(UsageError);
  });
  it('inspect, top, stats', () => {
    expect(parse(['inspect', 'a', 'busybox'])).toEqual({ verb: 'inspect', refs: ['a', 'busybox'] });
    expect(parse(['top', 'a', '--json'])).toEqual({ verb: 'top', ref: 'a', json: true });
    expect(parse(['stats'])).toEqual({ verb: 'stats', refs: [], noStream: false, json: false });
    expect(parse(['stats', '--no-stream', '--json', 'a'])).toEqual({ verb: 'stats', refs: ['a'], noStream: true, json: true });
  });
  it('images, import, rmi', () => {
    expect(parse(['images', '-q'])).toEqual({ verb: 'images', quiet: true, json: false });
    expect(parse(['import', 'rootfs.tar', 'mine:1', '--change', 'CMD ["sh"]', '-c', 'ENV A=1 B=2'])).toEqual({
      verb: 'import',
      file: '/home/u/rootfs.tar',
      ref: 'mine:1',
      config: { Cmd: ['sh'], Env: ['A=1', 'B=2'] },
    });
    expect(parse(['import', '/abs/r.tgz', 'x'])).toMatchObject({ file: '/abs/r.tgz', config: {} });
    expect(parse(['rmi', '-f', 'x'])).toEqual({ verb: 'rmi', refs: ['x'], force: true });
  });
  it('version and help', () => {
    expect(parse(['version'])).toEqual({ verb: 'version' });
    expect(parse(['--version'])).toEqual({ verb: 'version' });
    expect(parse([])).toEqual({ verb: 'help' });
    expect(parse(['--help'])).toEqual({ verb: 'help' });
    expect(parse(['help', 'run'])).toEqual({ verb: 'help', topic: 'run' });
    expect(parse(['run', '--help'])).toEqual({ verb: 'help', topic: 'run' });
    expect(parse(['logs', '-h'])).toEqual({ verb: 'help', topic: 'logs' });
    expect(() => parse(['help', 'nope'])).toThrow(UsageError);
    expect(() => parse(['frobnicate'])).toThrow("unknown command 'frobnicate'; see berth help");
  });
  it('every verb has help that lists each of its flags', () => {
    for (const [verb, def] of Object.entries(VERBS)) {
      const text = helpText(verb);
      expect(text).toContain(def.usage);
      for (const f of def.flags) if (f.long) expect(text, `${verb} --${f.long}`).toContain(`--${f.long}`);
    }
    expect(helpText()).toContain('berth help VERB');
  });
});

describe('import --change', () => {
  it('supports CMD, ENTRYPOINT (JSON and shell form), ENV, WORKDIR, USER', () => {
    const c = {};
    applyChange(c, 'CMD echo hi');
    applyChange(c, 'ENTRYPOINT ["/bin/sh", "-c"]');
    applyChange(c, 'ENV GREETING hello world');
    applyChange(c, 'workdir /srv');
    applyChange(c, 'USER 1000:1000');
    expect(c).toEqual({ Cmd: ['/bin/sh', '-c', 'echo hi'], Entrypoint: ['/bin/sh', '-c'], Env: ['GREETING=hello world'], WorkingDir: '/srv', User: '1000:1000' });
  });
  it('refuses the rest', () => {
    expect(() => applyChange({}, 'HEALTHCHECK NONE')).toThrow(/not supported/);
    expect(() => applyChange({}, 'EXPOSE eighty')).toThrow(/PORT/);
    expect(() => applyChange({}, 'CMD ["sh", 1]')).toThrow(/array of strings/);
    expect(() => applyChange({}, 'CMD')).toThrow(UsageError);
  });
});

describe('--change: EXPOSE, LABEL, STOPSIGNAL', () => {
  it('fills the OCI config names', () => {
    const c = {};
    applyChange(c, 'EXPOSE 80 53/udp');
    applyChange(c, 'LABEL a=1 "b"=x desc="two words"');
    applyChange(c, 'STOPSIGNAL SIGQUIT');
    applyChange(c, 'ENV A=1 B="x y"');
    expect(c).toEqual({
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      Labels: { a: '1', b: 'x', desc: 'two words' },
      StopSignal: 'SIGQUIT',
      Env: ['A=1', 'B=x y'],
    });
  });
  it('names the verb in its errors', () => {
    expect(() => applyChange({}, 'FROM x', 'commit')).toThrow(UsageError);
    try {
      applyChange({}, 'FROM x', 'commit');
    } catch (e) {
      expect((e as UsageError).verb).toBe('commit');
    }
  });
});

describe('image verbs', () => {
  it('pull', () => {
    expect(parse(['pull', 'busybox'])).toEqual({ verb: 'pull', ref: 'busybox', insecure: false, quiet: false });
    expect(parse(['pull', '--insecure', '-q', '--authfile', 'auth.json', 'r:5000/x:1'])).toEqual({
      verb: 'pull',
      ref: 'r:5000/x:1',
      insecure: true,
      quiet: true,
      authFile: '/home/u/auth.json',
    });
    expect(() => parse(['pull'])).toThrow(/pull needs an IMAGE/);
    expect(() => parse(['pull', 'a', 'b'])).toThrow(/takes no argument 'b'/);
  });
  it('load, import, save', () => {
    expect(parse(['load', '-i', 'img.tar'])).toEqual({ verb: 'load', file: '/home/u/img.tar', quiet: false });
    expect(parse(['load', '--input=/x/img.tar', '-q'])).toEqual({ verb: 'load', file: '/x/img.tar', quiet: true });
    expect(parse(['load'])).toEqual({ verb: 'load', quiet: false });
    expect(parse(['import', 'root.tgz'])).toEqual({ verb: 'import', file: '/home/u/root.tgz', config: {} });
    expect(parse(['save', '-o', 'out.tar', 'a', 'b:2'])).toEqual({ verb: 'save', refs: ['a', 'b:2'], output: '/home/u/out.tar' });
    expect(parse(['save', 'a'])).toEqual({ verb: 'save', refs: ['a'] });
    expect(() => parse(['save'])).toThrow(/at least one IMAGE/);
  });
  it('tag, history, layers', () => {
    expect(parse(['tag', 'a', 'b:1'])).toEqual({ verb: 'tag', source: 'a', target: 'b:1' });
    expect(() => parse(['tag', 'a'])).toThrow(/SOURCE and a TARGET/);
    expect(parse(['history', '--no-trunc', 'x'])).toEqual({ verb: 'history', ref: 'x', noTrunc: true, quiet: false, json: false });
    expect(parse(['layers', 'x', '--json'])).toEqual({ verb: 'layers', ref: 'x', noTrunc: false, json: true });
  });
  it('commit, export, diff', () => {
    expect(parse(['commit', '-m', 'msg', '-a', 'me', '-c', 'CMD ["sh"]', 'box', 'new:1'])).toEqual({
      verb: 'commit',
      ref: 'box',
      image: 'new:1',
      message: 'msg',
      author: 'me',
      config: { Cmd: ['sh'] },
      pause: true,
      quiet: false,
    });
    expect(parse(['commit', 'box'])).toEqual({ verb: 'commit', ref: 'box', config: {}, pause: true, quiet: false });
    expect(parse(['commit', '--pause=false', 'box'])).toMatchObject({ pause: false });
    expect(parse(['commit', '-p', 'false', 'box'])).toMatchObject({ pause: false });
    expect(() => parse(['commit', '--pause=no', 'box'])).toThrow(/--pause of commit takes true or false, not "no"/);
    expect(parse(['export', '-o', 'fs.tar', 'box'])).toEqual({ verb: 'export', ref: 'box', output: '/home/u/fs.tar' });
    expect(parse(['export', 'box'])).toEqual({ verb: 'export', ref: 'box' });
    expect(parse(['diff', 'box'])).toEqual({ verb: 'diff', ref: 'box', json: false });
  });
  it('image SUBCOMMAND: aliases of the top-level verbs, plus inspect and prune', () => {
    expect(parse(['image', 'ls', '-q'])).toEqual({ verb: 'images', quiet: true, json: false });
    expect(parse(['image', 'rm', '-f', 'x'])).toEqual({ verb: 'rmi', refs: ['x'], force: true });
    expect(parse(['image', 'inspect', 'a', 'b'])).toEqual({ verb: 'image inspect', refs: ['a', 'b'] });
    expect(parse(['image', 'prune', '-af'])).toEqual({ verb: 'image prune', all: true, force: true, json: false });
    expect(parse(['image', 'history', 'x'])).toMatchObject({ verb: 'history', ref: 'x' });
    expect(parse(['image', 'layers', 'x'])).toMatchObject({ verb: 'layers', ref: 'x' });
    expect(parse(['image'])).toEqual({ verb: 'help', topic: 'image' });
    expect(parse(['image', 'prune', '--help'])).toEqual({ verb: 'help', topic: 'image prune' });
    expect(parse(['help', 'image', 'prune'])).toEqual({ verb: 'help', topic: 'image prune' });
    expect(() => parse(['image', 'nope'])).toThrow(/unknown command 'image nope'/);
    expect(() => parse(['image prune'])).toThrow(/unknown command/);
    expect(helpText('image')).toContain('prune');
  });
});
