// The signed-in session: token, who the server says we are, and the tab's live connection.
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { errorsOf, type LiveConnection, type ServerError } from './api.ts';

export interface Session {
  token: string;
  subject: string;
  roles: readonly string[];
  live: LiveConnection;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

export function useConnectionState(live: LiveConnection) {
  return useSyncExternalStore(live.onState, live.getState);
}

export interface Loaded<T> {
  data: T | null;
  errors: ServerError[] | null;
  loading: boolean;
  /** Loads again now (or right after the load in flight: loads never overlap or arrive out of order). */
  reload(): void;
  /** Loads again shortly, once for a burst of calls. */
  reloadSoon(): void;
  /** Patches the data in place (live events). */
  update(fn: (data: T) => T): void;
}

/** Loads data for a page; mount the page with a `key` per subject so a load never outlives it. */
export function useLoader<T>(load: () => Promise<T>, debounceMs = 10): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; errors: ServerError[] | null; loading: boolean }>({
    data: null,
    errors: null,
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const mounted = useRef(true);
  const inflight = useRef(false);
  const again = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const reload = useCallback(async () => {
    clearTimeout(timer.current);
    if (inflight.current) {
      again.current = true;
      return;
    }
    inflight.current = true;
    try {
      do {
        again.current = false;
        try {
          const data = await loadRef.current();
          if (mounted.current) setState({ data, errors: null, loading: false });
        } catch (error) {
          if (mounted.current) setState((s) => ({ data: s.data, errors: errorsOf(error), loading: false }));
        }
      } while (again.current && mounted.current);
    } finally {
      inflight.current = false;
    }
  }, []);

  const reloadSoon = useCallback(() => {
    if (inflight.current) {
      again.current = true;
      return;
    }
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void reload(), debounceMs);
  }, [reload, debounceMs]);

  const update = useCallback((fn: (data: T) => T) => setState((s) => (s.data === null ? s : { ...s, data: fn(s.data) })), []);

  useEffect(() => {
    mounted.current = true;
    void reload();
    return () => {
      mounted.current = false;
      clearTimeout(timer.current);
    };
  }, [reload]);

  return { ...state, reload: () => void reload(), reloadSoon, update };
}
