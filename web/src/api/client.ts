/**
 * The typed API client: openapi-fetch over the types generated from the API's own OpenAPI
 * document (src/api/schema.d.ts, made by `npm run openapi`), so a contract change breaks the build.
 * Every request carries the id token; a 401 triggers one silent refresh and one retry.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { Session, type Tokens } from "./session";

export type Schemas = components["schemas"];
export type ApiClient = ReturnType<typeof createClient<paths>>;

export interface ApiError {
  code: string;
  message: string;
  field?: string | null;
}

/** The API's `{"error": {...}}` envelope from a failed call, or a generic one. */
export function apiError(error: unknown, status?: number): ApiError {
  if (error && typeof error === "object" && "error" in error) {
    const inner = (error as { error: unknown }).error;
    if (inner && typeof inner === "object" && "message" in inner) return inner as ApiError;
  }
  return { code: "http", message: status ? `HTTP ${status}` : "the request failed" };
}

export class ApiFailure extends Error {
  readonly detail: ApiError;
  readonly status: number;
  constructor(detail: ApiError, status: number) {
    super(detail.message);
    this.detail = detail;
    this.status = status;
  }
}

/** The data of an openapi-fetch answer, or an ApiFailure carrying the error envelope. */
export function unwrap<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.error !== undefined || !answer.response.ok) {
    throw new ApiFailure(apiError(answer.error, answer.response.status), answer.response.status);
  }
  return answer.data as T;
}

export function tokensFrom(body: { id_token: string; access_token: string; expires_in: number }):
  Tokens {
  return {
    idToken: body.id_token,
    accessToken: body.access_token,
    expiresAt: Date.now() + body.expires_in * 1000,
  };
}

export function makeClient(baseUrl: string, session: Session): ApiClient {
  const authorised = async (request: Request): Promise<Response> => {
    const retry = request.clone();
    const tokens = session.snapshot();
    if (tokens) request.headers.set("Authorization", `Bearer ${tokens.idToken}`);
    const answer = await fetch(request);
    if (answer.status !== 401 || !tokens || request.url.includes("/auth/")) return answer;
    const fresh = await session.refresh();
    if (!fresh) return answer;
    retry.headers.set("Authorization", `Bearer ${fresh.idToken}`);
    return fetch(retry);
  };
  const client = createClient<paths>({ baseUrl, fetch: authorised });
  session.refresher = async (refreshToken) => {
    const answer = await client.POST("/auth/refresh", { body: { refresh_token: refreshToken } });
    return answer.data ? tokensFrom(answer.data) : null;
  };
  return client;
}

/** The JSON body of a route's success answer, from the generated types. */
export type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends Record<200 | 201 | 202, { content: { "application/json": infer T } } | undefined>
    ? T
    : R extends { 200: { content: { "application/json": infer T } } }
      ? T
      : R extends { 201: { content: { "application/json": infer T } } }
        ? T
        : R extends { 202: { content: { "application/json": infer T } } }
          ? T
          : never
  : never;

export type Account = Ok<"/accounts", "get">["items"][number];
export type Strategy = Ok<"/strategies/{strategy_id}", "get">;
export type Preview = Ok<"/strategies/{strategy_id}/preview", "get">;
export type Order = Ok<"/orders", "get">["items"][number];
export type Position = Ok<"/positions", "get">["items"][number];
export type KillSwitchOperation = Ok<"/kill-switch", "get">["items"][number];
