/**
 * Where the tokens live (docs/web.md): the id and access tokens only in memory (a page reload
 * or a new tab refreshes them), the refresh token in sessionStorage (this tab only, gone when it
 * closes; never localStorage, never a cookie the API would have to defend against CSRF).
 */

export interface Tokens {
  idToken: string;
  accessToken: string;
  /** epoch ms when the id token expires */
  expiresAt: number;
}

const REFRESH_KEY = "optexec.refresh";
type Listener = () => void;

export class Session {
  private tokens: Tokens | null = null;
  private listeners = new Set<Listener>();
  private storage: Pick<Storage, "getItem" | "setItem" | "removeItem">;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** set by the API client: exchanges the refresh token for new tokens */
  refresher: ((refreshToken: string) => Promise<Tokens | null>) | null = null;
  private inflight: Promise<Tokens | null> | null = null;

  constructor(storage: Pick<Storage, "getItem" | "setItem" | "removeItem">) {
    this.storage = storage;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = (): Tokens | null => this.tokens;

  get refreshToken(): string | null {
    return this.storage.getItem(REFRESH_KEY);
  }

  signIn(tokens: Tokens, refreshToken: string | null): void {
    if (refreshToken) this.storage.setItem(REFRESH_KEY, refreshToken);
    this.set(tokens);
  }

  signOut(): void {
    this.storage.removeItem(REFRESH_KEY);
    this.set(null);
  }

  /** One refresh at a time, however many requests saw a 401 together. */
  refresh(): Promise<Tokens | null> {
    const token = this.refreshToken;
    if (!token || !this.refresher) return Promise.resolve(null);
    if (!this.inflight) {
      this.inflight = this.refresher(token)
        .then((tokens) => {
          if (tokens) this.set(tokens);
          else this.signOut();
          return tokens;
        })
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  private set(tokens: Tokens | null): void {
    this.tokens = tokens;
    clearTimeout(this.timer);
    if (tokens) {
      // Silent refresh a minute before the id token expires.
      const wait = Math.max(tokens.expiresAt - Date.now() - 60_000, 5_000);
      this.timer = setTimeout(() => void this.refresh(), wait);
    }
    this.listeners.forEach((listener) => listener());
  }
}
