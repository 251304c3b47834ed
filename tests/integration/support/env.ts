// What the global setup hands to every test file (vitest's provide/inject).
export interface BerthTestEnv {
  repo: string;
  /** The temp dir holding everything the run creates. */
  tmp: string;
  root: string;
  socket: string;
  /** The helper binary under test (the sanitized build). */
  berthd: string;
  /** Holds the PID of the helper currently serving (restart.test.ts replaces it). */
  helperPidFile: string;
  /** The helper's own cgroup: controller name -> absolute directory. */
  helperCgroups: Record<string, string>;
  /** cgroup.procs files a new helper is moved into before exec. */
  cgroupProcs: string[];
  /** The network namespace every helper of the run lives in (support/netns.ts). */
  netns: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    berthEnv: BerthTestEnv;
  }
}
