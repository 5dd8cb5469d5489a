import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the built console lives: `dist/web` under the checkout (or image) root, the first folder
 * above this file holding a package.json — the same from `apps/api/src` (tests) and from
 * `dist/apps/api/src` (npm start, the Docker image).
 */
export function consoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'dist', 'web');
}

/** Paths the console never answers: the API's own (SPEC: /graphql, /v1, /health, /metrics). */
export const API_PATHS = /^\/(graphql|v1|health|metrics)(\/|$)/;
