import type { FastifyInstance, RouteOptions } from 'fastify';

declare module 'fastify' {
  // Documentation-only keys of a route schema, read by the OpenAPI builder below.
  interface FastifySchema {
    summary?: string;
    tags?: string[];
  }
}

/**
 * Builds an OpenAPI 3.0 document from the JSON schemas the routes already declare, so
 * the published contract cannot drift from what the server validates.
 */
export function collectOpenApi(app: FastifyInstance, info: { title: string; version: string }): () => object {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    if (route.schema && !(route.config as { hidden?: boolean } | undefined)?.hidden) routes.push(route);
  });
  let doc: object | undefined;
  return () => (doc ??= build(routes, info));
}

function build(routes: RouteOptions[], info: { title: string; version: string }): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD');
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const s = r.schema as Record<string, unknown>;
    for (const m of methods) {
      const op: Record<string, unknown> = { summary: s.summary, tags: s.tags, responses: responses(s.response) };
      const params = parameters(s.params);
      if (params.length) op.parameters = params;
      if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: openApiSchema(s.body) } } };
      (paths[path] ??= {})[m.toLowerCase()] = op;
    }
  }
  return { openapi: '3.0.3', info, paths };
}

function parameters(params: unknown): object[] {
  const p = params as { properties?: Record<string, unknown> } | undefined;
  return Object.entries(p?.properties ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema }));
}

function responses(resp: unknown): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [code, schema] of Object.entries((resp ?? {}) as Record<string, unknown>)) {
    const isNull = (schema as { type?: string }).type === 'null';
    out[code] = isNull ? { description: 'No content' } : {
      description: code.startsWith('2') ? 'Success' : 'Error: {error:{code,message}}',
      content: { 'application/json': { schema: openApiSchema(schema) } },
    };
  }
  return out;
}

/** OpenAPI 3.0 has no `type: null`; a nullable anyOf becomes `nullable: true`. */
function openApiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openApiSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.anyOf)) {
    const rest = s.anyOf.filter((x) => (x as { type?: string }).type !== 'null');
    if (rest.length === 1 && rest.length < s.anyOf.length) return { ...(openApiSchema(rest[0]) as object), nullable: true };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) out[k] = openApiSchema(v);
  return out;
}
