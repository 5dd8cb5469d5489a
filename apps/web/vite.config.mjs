// The console's build: two pages (the app and the offline GraphiQL) into dist/web, which the API
// serves at `/` (apps/api/src/console). No dev server proxy is needed in tests: they use the build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  resolve: {
    alias: {
      // Pure maths shared with the server (schedule and APR preview before an offer is sent).
      '@ccx/finance': here('../../libs/finance/src/index.ts'),
      '@ccx/core': here('../../libs/core/src/index.ts'),
    },
  },
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: here('../../dist/web'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 3000,
    reportCompressedSize: false,
    rollupOptions: {
      input: { main: here('index.html'), graphiql: here('graphiql.html') },
      // GraphiQL's dependencies mark React Server Components files with "use client": meaningless
      // in a client-only bundle, so not worth a screenful per build.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: { proxy: { '/graphql': 'http://localhost:3000' } },
});
