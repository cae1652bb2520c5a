// Build the console into dist/, which the server serves at / (console.dir).
// No inline scripts or styles (the server's CSP forbids them) and no remote
// origins: everything the page loads comes from the centre.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: true,
    // Small images (Leaflet's) become data: URIs, which the CSP's img-src allows.
    assetsInlineLimit: 8192,
    modulePreload: { polyfill: false },
  },
});
