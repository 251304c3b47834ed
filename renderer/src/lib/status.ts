// How a container's state reads in the UI: a label (never colour alone) and a tone.
import type { ContainerInfo, NamespaceName } from '../../../electron/core/protocol';

export type Tone = 'ok' | 'warn' | 'bad' | 'idle' | 'info';

export function containerState(c: Pick<ContainerInfo, 'status' | 'exitCode' | 'exitReason' | 'oomKilled'> & { paused?: boolean }): { label: string; tone: Tone } {
  if (c.status === 'running') return c.paused ? { label: 'Paused', tone: 'warn' } : { label: 'Running', tone: 'ok' };
  if (c.status === 'restarting') return { label: 'Restarting', tone: 'warn' };
  if (c.status === 'created') return { label: 'Created', tone: 'info' };
  if (c.oomKilled || c.exitReason === 'oom-killed') return { label: 'OOM killed', tone: 'bad' };
  if (c.exitReason === 'lost') return { label: 'Lost', tone: 'bad' };
  if (c.exitReason === 'stopped') return { label: 'Stopped', tone: 'idle' };
  if (c.exitReason === 'killed') return { label: 'Killed', tone: 'warn' };
  if (c.exitCode === 0) return { label: 'Exited (0)', tone: 'idle' };
  return { label: `Exited (${c.exitCode ?? '?'})`, tone: 'bad' };
}

/** Whether a container has processes or is about to (stop and remove then need care). */
export function isActive(c: Pick<ContainerInfo, 'status'>): boolean {
  return c.status === 'running' || c.status === 'restarting';
}

/**
 * One line on a restarting container: "Restart 3 of 5 in 2 s". `nextAttempt` comes from
 * the helper's clock; a time already past reads "any moment now".
 */
export function restartingText(c: Pick<ContainerInfo, 'status' | 'restart'>, now: number): string {
  if (c.status !== 'restarting') return '';
  const r = c.restart;
  const nth = r.count + 1;
  const of = r.policy === 'on-failure' && r.maxRetries ? ` of ${r.maxRetries}` : '';
  const at = r.nextAttempt ? Date.parse(r.nextAttempt) : NaN;
  const left = Number.isNaN(at) ? NaN : Math.ceil((at - now) / 1000);
  const when = Number.isNaN(left) ? 'soon' : left <= 0 ? 'any moment now' : left < 120 ? `in ${left} s` : `in ${Math.round(left / 60)} min`;
  return `Restart ${nth}${of} ${when}`;
}

/** The restart policy in a few words, with the count so far: "on failure, at most 3 · restarted 1×". */
export function restartPolicyText(r: ContainerInfo['restart'] | undefined): string {
  if (!r || r.policy === 'no') return 'never';
  const name = r.policy === 'on-failure' ? `on failure${r.maxRetries ? `, at most ${r.maxRetries}×` : ''}` : r.policy === 'always' ? 'always' : 'unless stopped';
  return r.count > 0 ? `${name} · restarted ${r.count}×` : name;
}

/** One sentence on what an exit means, for the Overview. */
export function exitExplanation(c: Pick<ContainerInfo, 'exitCode' | 'exitSignal' | 'exitReason' | 'oomKilled'>): string {
  switch (c.oomKilled ? 'oom-killed' : c.exitReason) {
    case 'exited':
      return c.exitCode === 0 ? 'The command finished successfully.' : `The command exited with status ${c.exitCode}.`;
    case 'signaled':
      return `The process was ended by ${c.exitSignal ?? 'a signal'} (exit code ${c.exitCode ?? '?'} = 128 + signal number).`;
    case 'oom-killed':
      return 'The kernel’s OOM killer ended it: it tried to use more memory than its cgroup limit allows. Raise the memory limit or use less.';
    case 'stopped':
      return 'Stopped by the user (SIGTERM, then SIGKILL after the timeout).';
    case 'killed':
      return `Killed by the user with ${c.exitSignal ?? 'a signal'}.`;
    case 'lost':
      return 'The helper restarted and found the container gone without a recorded exit status.';
    default:
      return '';
  }
}

export interface NamespaceText {
  name: NamespaceName;
  title: string;
  /** What it isolates, one sentence (the Run dialog's toggles). */
  isolates: string;
  /** What isolated means for this container (the Namespaces tab). */
  isolatedMeans: string;
  /** What shared means. */
  sharedMeans: string;
}

export const NAMESPACE_TEXT: readonly NamespaceText[] = [
  {
    name: 'pid',
    title: 'PID',
    isolates: 'Process IDs: the command is PID 1 and sees only its own processes.',
    isolatedMeans: 'The container has its own process numbering: its first process is PID 1 and host processes are invisible to it.',
    sharedMeans: 'The container sees every process on the host, with the host’s PIDs.',
  },
  {
    name: 'mount',
    title: 'Mount',
    isolates: 'The mount table: the container’s filesystem mounts are its own.',
    isolatedMeans: 'Mounts made inside (its overlay root, /proc, /dev) are invisible to the host, and host mounts made later do not appear inside.',
    sharedMeans: 'The container uses the host’s mount table; its root is entered with chroot only.',
  },
  {
    name: 'uts',
    title: 'UTS',
    isolates: 'Hostname and domain name.',
    isolatedMeans: 'The container has its own hostname; changing it does not rename the host.',
    sharedMeans: 'The container has the host’s hostname and could change it.',
  },
  {
    name: 'ipc',
    title: 'IPC',
    isolates: 'System V IPC and POSIX message queues.',
    isolatedMeans: 'Shared memory segments, semaphores and message queues are private to the container.',
    sharedMeans: 'The container can reach the host’s shared memory and message queues.',
  },
  {
    name: 'net',
    title: 'Network',
    isolates: 'Network interfaces, routes, ports and firewall rules.',
    isolatedMeans: 'The container has its own network stack with only a loopback interface; it cannot reach the host’s network.',
    sharedMeans: 'The container uses the host’s interfaces and ports directly.',
  },
  {
    name: 'cgroup',
    title: 'Cgroup',
    isolates: 'The view of the cgroup tree: its own cgroup looks like the root.',
    isolatedMeans: '/proc/self/cgroup inside shows the container’s cgroup as “/”, hiding where it sits on the host.',
    sharedMeans: 'The container sees the host’s full cgroup paths.',
  },
  {
    name: 'user',
    title: 'User',
    isolates: 'User and group IDs: root inside maps to an unprivileged user outside.',
    isolatedMeans: 'UID 0 inside is an unprivileged UID on the host, so a breakout would not be root.',
    sharedMeans: 'UIDs are the host’s: root in the container is root on the host (limited by capabilities).',
  },
];
