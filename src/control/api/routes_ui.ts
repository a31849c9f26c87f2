import type { FastifyInstance, FastifyReply } from 'fastify';
import { loadUiAssets, type UiAsset } from '../../ui/assets.ts';

/**
 * The page and its scripts load without a token (they hold no data); the data comes
 * from the API routes, which demand one. Listed in the server's open routes.
 */
export const UI_OPEN_ROUTES = ['/', '/favicon.ico', '/ui', '/ui/', '/ui/:file', '/ui/web/:file'] as const;

/**
 * Only the dashboard's own scripts, styles and the API on this origin; no inline code,
 * no framing, no forms posted elsewhere.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The read-only web dashboard (docs/dashboard.md) at /ui/. */
export function registerUiRoutes(app: FastifyInstance): void {
  // Read on the first visit, not at start-up: a control plane nobody browses never strips a type.
  let assets: Promise<ReadonlyMap<string, UiAsset>> | undefined;
  const hidden = { config: { hidden: true } };
  const send = async (name: string, reply: FastifyReply): Promise<FastifyReply> => {
    const asset = (await (assets ??= loadUiAssets())).get(name);
    if (asset === undefined) {
      return reply.code(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `no dashboard file ${name}` } });
    }
    return reply
      .header('content-type', asset.contentType)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(asset.body);
  };
  app.get('/', hidden, async (_req, reply) => reply.redirect('/ui/'));
  // Browsers ask for it on their own; no content beats a 404 in the console.
  app.get('/favicon.ico', hidden, async (_req, reply) => reply.code(204).send());
  app.get('/ui', hidden, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/', hidden, async (_req, reply) => send('index.html', reply));
  app.get<{ Params: { file: string } }>('/ui/:file', hidden, async (req, reply) => send(req.params.file, reply));
  app.get<{ Params: { file: string } }>('/ui/web/:file', hidden, async (req, reply) => send(`web/${req.params.file}`, reply));
}
