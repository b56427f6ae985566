import { Router } from 'express';
import type { Discovery } from './discovery.js';
import type { JwtSigner } from '../keys/signer.js';

/** Discovery and the JWKS: public, cacheable, CORS-enabled. */
export function wellKnownRoutes(discovery: Discovery, signer: JwtSigner): Router {
  const router = Router();
  let discoveryBody: string | undefined;

  router.get('/.well-known/openid-configuration', (_req, res) => {
    // Serialised once: the document only changes with the configuration.
    discoveryBody ??= JSON.stringify(discovery.document(), null, 2);
    res.type('application/json').send(discoveryBody);
  });

  router.get('/keys', async (_req, res) => {
    const jwks = await signer.jwks();
    // Shorter than the pre-publication lead time, so every relying party has a key before it signs.
    res.setHeader('Cache-Control', `max-age=${signer.jwksMaxAgeSeconds()}, must-revalidate`);
    res.type('application/json').send(JSON.stringify(jwks, null, 2));
  });

  return router;
}
