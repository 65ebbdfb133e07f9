import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle carries no configuration: the API URL and Cognito ids come from /config.json at start.
export default defineConfig({
  plugins: [react()],
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 400 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
