import { basename, dirname } from 'node:path';
import express, { type RequestHandler, type Router } from 'express';
import type { Frontend } from './frontend.js';

const MAX_AGE_MS = 3600 * 1000;

// No index files, no directory redirects (a directory is simply not found), dotfiles not found; errors such
// as a "../" path fall through to the next directory and finally to notFound, so nothing is ever listed.
const staticOptions = {
  cacheControl: true,
  maxAge: MAX_AGE_MS,
  dotfiles: 'ignore',
  index: false,
  redirect: false,
  fallthrough: true,
} as const;

const notFound: RequestHandler = (_req, res) => {
  res.status(404).type('text/plain').send('Not found');
};

/**
 * /static/*, /theme/* and /robots.txt for the pages, each file looked up in the custom frontend dir first and
 * then in the built-in one. Mount it under the issuer path.
 */
export function frontendAssets(fe: Frontend): Router {
  const router = express.Router();
  router.use('/static', ...fe.staticDirs.map((d) => express.static(d, staticOptions)), notFound);
  router.use('/theme', ...fe.themeDirs.map((d) => express.static(d, staticOptions)), notFound);
  router.get('/robots.txt', (_req, res, next) => {
    // root keeps send's dotfile check to the file name, whatever directories the install lives under.
    res.sendFile(basename(fe.robotsTxt), { root: dirname(fe.robotsTxt), maxAge: MAX_AGE_MS }, (err) => {
      if (err) next(err);
    });
  });
  return router;
}
