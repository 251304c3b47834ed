import { describe, expect, it } from 'vitest';

import { parseArgs, VERBS } from './args';
import { CONTAINER_SUBCOMMANDS } from './lifecycle-args';
import { eventLine } from './lifecycle';

const parse = (line: string[]) => parseArgs(line, { cwd: '/home/u' });

describe('create', () => {
  it("takes run's options (not -d) and the rest as the command", () => {
    expect(parse(['create', '-it', '--name', 'box', '-m', '64m', 'busybox', 'sh', '-c', 'echo hi', '--rm'])).toEqual({
      verb: 'create',
      spec: { image: 'busybox', name: 'box', tty: true, stdin: true, limits: { memory: 64 * 1024 * 1024 }, cmd: ['sh', '-c', 'echo hi', '--rm'] },
    });
    expect(() => parse(['create', '-d', 'busybox'])).toThrow(/unknown flag -d for create/);
    expect(() => parse(['create'])).toThrow(/create needs an IMAGE/);
    expect(() => parse(['create', '--cpus', 'lots', 'busybox'])).toThrow(/--cpus takes a number/);
  });
});

describe('start, wait', () => {
  it('start: several containers, or one with -a; -i implies -a', () => {
    expect(parse(['start', 'a', 'b'])).toEqual({ verb: 'start', refs: ['a', 'b'], attach: false, interactive: false });
    expect(parse(['start', '-a', 'a'])).toEqual({ verb: 'start', refs: ['a'], attach: true, interactive: false });
    expect(parse(['start', '-ai', 'a'])).toEqual({ verb: 'start', refs: ['a'], attach: true, interactive: true });
    expect(parse(['start', '-i', 'a'])).toEqual({ verb: 'start', refs: ['a'], attach: true, interactive: true });
    expect(() => parse(['start', '-a', 'a', 'b'])).toThrow(/attaches to one container/);
    expect(() => parse(['start'])).toThrow(/start needs at least one CONTAINER/);
  });

  it('wait: one or more containers', () => {
    expect(parse(['wait', 'a', 'b'])).toEqual({ verb: 'wait', refs: ['a', 'b'] });
    expect(() => parse(['wait'])).toThrow(/wait needs at least one CONTAINER/);
  });
});

describe('container SUBCOMMAND, events', () => {
  it('maps the subcommands onto the top-level verbs, plus prune', () => {
    expect(parse(['container', 'ls', '-a'])).toEqual({ verb: 'ps', all: true, quiet: false, json: false });
    expect(parse(['container', 'rm', '-f', 'x'])).toEqual({ verb: 'rm', refs: ['x'], force: true, volumes: false });
    expect(parse(['container', 'run', '--rm', 'busybox', 'echo', '-n'])).toMatchObject({ verb: 'run', spec: { image: 'busybox', cmd: ['echo', '-n'] } });
    expect(parse(['container', 'exec', 'x', 'ls', '-l'])).toMatchObject({ verb: 'exec', params: { ref: 'x', cmd: ['ls', '-l'] } });
    expect(parse(['container', 'prune', '-f', '--json'])).toEqual({ verb: 'container prune', force: true, json: true });
    expect(parse(['container'])).toEqual({ verb: 'help', topic: 'container' });
    expect(parse(['help', 'container', 'prune'])).toEqual({ verb: 'help', topic: 'container prune' });
    expect(() => parse(['container', 'nope'])).toThrow(/unknown command 'container nope'/);
    expect(() => parse(['container prune'])).toThrow(/unknown command/);
    for (const verb of Object.values(CONTAINER_SUBCOMMANDS)) expect(VERBS[verb], verb).toBeDefined();
  });

  it('events takes --json only', () => {
    expect(parse(['events'])).toEqual({ verb: 'events', json: false });
    expect(parse(['events', '--json'])).toEqual({ verb: 'events', json: true });
    expect(() => parse(['events', 'x'])).toThrow(/takes no argument 'x'/);
  });

  it("prints an event as docker does, with the container's name when known", () => {
    const names = new Map([['abc', { name: 'web', image: 'busybox:latest' }]]);
    expect(eventLine({ type: 'container', action: 'start', id: 'abc', time: '2026-12-06T07:00:00Z' }, names)).toBe(
      '2026-12-06T07:00:00Z container start abc (image=busybox:latest, name=web)\n',
    );
    expect(eventLine({ type: 'image', action: 'change', id: '', time: 't' }, names)).toBe('t image change -\n');
    expect(eventLine({ type: 'volume', action: 'create', id: 'data', time: 't' }, names)).toBe('t volume create data\n');
  });
});
