// What the e2e global setup hands to the test files.
export interface E2eEnv {
  repo: string;
  tmp: string;
  root: string;
  socket: string;
  /** http://127.0.0.1:PORT/#token=… */
  url: string;
  /** the renderer as built for this run */
  webDir: string;
  /** test-results/screenshots */
  screenshots: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2eEnv: E2eEnv;
  }
}
