/**
 * Runtime configuration, fetched from /config.json at start so one build serves every stage:
 * `make run` writes it for the local stack, Terraform uploads it next to the app on AWS.
 */
export interface RuntimeConfig {
  /** the API's base URL; "/api" when the app's server proxies it on the same origin */
  apiUrl: string;
  stage: string;
  region?: string;
  userPoolId?: string;
  userPoolClientId?: string;
}

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<RuntimeConfig> {
  const answer = await fetcher("/config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json: HTTP ${answer.status}`);
  const config = (await answer.json()) as Partial<RuntimeConfig>;
  if (typeof config.apiUrl !== "string" || !config.apiUrl) {
    throw new Error("config.json has no apiUrl");
  }
  return { stage: "unknown", ...config, apiUrl: config.apiUrl.replace(/\/$/, "") };
}
