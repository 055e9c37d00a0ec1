import { defineConfig } from "vite";

// The built files go to dist/, which the Go package web embeds; no file is
// inlined into the HTML (the node's Content-Security-Policy allows only
// scripts and styles of its own origin).
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
