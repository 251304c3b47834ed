// The state of one user action that calls the helper (remove, create, prune, pull…):
// busy while it runs, its error as one readable line, cleared when it runs again.
import { useCallback, useState } from 'react';

import { errorText } from '../components/common';

export interface Action {
  busy: boolean;
  error: string | null;
  /** an error found before anything ran (a form's own check) */
  setError(message: string | null): void;
  /** runs fn; a throw becomes `error` */
  run(fn: () => Promise<void>): Promise<void>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
