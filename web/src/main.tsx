import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { makeClient } from "./api/client";
import { Session } from "./api/session";
import { App } from "./App";
import { loadConfig } from "./config";
import { Context, measureOffset } from "./context";
import "./index.css";

async function start(): Promise<void> {
  const root = createRoot(document.getElementById("root") as HTMLElement);
  try {
    const config = await loadConfig();
    const session = new Session(window.sessionStorage);
    const client = makeClient(config.apiUrl, session);
    if (session.refreshToken) await session.refresh(); // a reload keeps the tab signed in
    const clockOffset = { current: (await measureOffset(client).catch(() => null)) ?? 0 };
    const queries = new QueryClient({
      defaultOptions: { queries: { retry: 1, staleTime: 1_000, refetchOnWindowFocus: true } },
    });
    root.render(
      <StrictMode>
        <Context.Provider value={{ client, session, config, clockOffset }}>
          <QueryClientProvider client={queries}>
            <App />
          </QueryClientProvider>
        </Context.Provider>
      </StrictMode>,
    );
  } catch (error) {
    root.render(<p role="alert">The app could not start: {String(error)}</p>);
  }
}

void start();
