import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/**
 * `GET /graphql` from a browser (Accept prefers text/html, no `query` parameter) gets the bundled
 * GraphiQL of the console build instead of Apollo's landing page, which loads GraphiQL from a CDN
 * and so fails offline. Registered only when introspection is on (CCX_GRAPHQL_INTROSPECTION), so
 * production keeps no explorer. Every other request goes on to Apollo.
 */
export function graphiqlPage(dir: string): (req: Request, res: Response, next: NextFunction) => void {
  const page = join(dir, 'graphiql.html');
  return (req, res, next) => {
    if (req.method !== 'GET' || req.query.query !== undefined || req.accepts(['application/json', 'text/html']) !== 'text/html') return next();
    if (!existsSync(page)) {
      res.status(503).type('text/plain').send('The API explorer is part of the console build: run `npm run build` (or `npm start`).\n');
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(page);
  };
}
