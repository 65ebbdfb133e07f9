import { defineConfig } from "@playwright/test";

// Debian's Chromium, never a downloaded browser build (none can be fetched on these machines).
export default defineConfig({
  testDir: "e2e",
  timeout: 420_000,
  expect: { timeout: 20_000 },
  workers: 1,
  reporter: [["list"]],
  globalSetup: "./e2e/stack.setup.ts",
  use: {
    headless: true,
    viewport: { width: 1280, height: 900 },
    timezoneId: "Asia/Kolkata",
    locale: "en-IN",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
    },
  },
});
