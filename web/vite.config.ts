import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by chatty at /app/ (web/embed.go). `npm run dev` proxies the API to
// a chatty on :8080, so the dev server is same-origin like production.
export default defineConfig({
  base: "/app/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/graphql": { target: "http://127.0.0.1:8080", ws: true },
      "/files": "http://127.0.0.1:8080",
      "/thumbnails": "http://127.0.0.1:8080",
      "/avatars": "http://127.0.0.1:8080",
    },
  },
});
