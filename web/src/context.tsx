/** What every page needs: the typed client, the session, the runtime config, the platform clock. */
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from "react";
import type { ApiClient } from "./api/client";
import type { Session } from "./api/session";
import type { RuntimeConfig } from "./config";

export interface AppContext {
  client: ApiClient;
  session: Session;
  config: RuntimeConfig;
  /** ms to add to the browser's clock to get the platform's (measured before the first render) */
  clockOffset: { current: number };
}

/** Offset of the platform's clock (GET /health `now`, whole seconds) from the browser's. */
export async function measureOffset(client: ApiClient): Promise<number | null> {
  const sent = Date.now();
  const answer = await client.GET("/health");
  const now = answer.data?.now;
  return now ? new Date(now).getTime() + 500 - (sent + Date.now()) / 2 : null;
}

export const Context = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const app = useContext(Context);
  if (!app) throw new Error("useApp outside the app");
  return app;
}

export function useTokens() {
  const { session } = useApp();
  return useSyncExternalStore(session.subscribe, session.snapshot);
}

/**
 * The platform's "now": the browser's clock plus the offset to the API's clock (GET /health
 * `now`), measured at start and every minute, so a shifted clock (`make run AT=...`) is honoured.
 * Re-renders every second.
 */
export function useServerNow(): Date {
  const { client, clockOffset } = useApp();
  const [offset, setOffset] = useState(clockOffset.current);
  const [tick, setTick] = useState(() => Date.now());
  useEffect(() => {
    let live = true;
    const measure = async () => {
      const measured = await measureOffset(client);
      if (live && measured !== null) {
        clockOffset.current = measured;
        setOffset(measured);
      }
    };
    const every = setInterval(() => void measure(), 60_000);
    const clock = setInterval(() => setTick(Date.now()), 1000);
    return () => {
      live = false;
      clearInterval(every);
      clearInterval(clock);
    };
  }, [client, clockOffset]);
  return new Date(tick + offset);
}
