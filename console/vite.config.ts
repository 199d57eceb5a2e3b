// The ops console's build: `vite build --config console/vite.config.ts` writes console/dist/,
// which the API process serves at `/` (server/console.ts). Hashed files go to dist/assets/.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // The page is small; one entry chunk avoids a request waterfall.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
});
