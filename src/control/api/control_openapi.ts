import type { FastifyInstance, RouteOptions } from 'fastify';

declare module 'fastify' {
  // Documentation-only keys of a route schema, read by the OpenAPI builder below.
  interface FastifySchema {
    summary?: string;
    tags?: string[];
  }
}

/**
 * Builds the OpenAPI 3.0 document from the schemas the routes validate with, so the
 * published contract cannot drift from the server. Routes are sorted by path and
 * method, so the document is byte-for-byte stable (docs/openapi.json is checked
 * against the served one).
 */
export function collectControlOpenApi(
  app: FastifyInstance, info: { title: string; version: string; description?: string },
  components: Readonly<Record<string, object>> = {},
): () => object {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    if (route.schema && !(route.config as { hidden?: boolean } | undefined)?.hidden) routes.push(route);
  });
  let doc: object | undefined;
  return () => (doc ??= build(routes, info, components));
}

/** Shared schema objects (by identity) become $refs into components.schemas. */
let refs = new Map<object, string>();

function build(routes: RouteOptions[], info: object, components: Readonly<Record<string, object>>): object {
  refs = new Map(Object.entries(components).map(([name, schema]) => [schema, name]));
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(components)) schemas[name] = openApiSchema(schema, schema);
  const paths: Record<string, Record<string, object>> = {};
  const sorted = [...routes].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  for (const r of sorted) {
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD').sort();
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const s = r.schema as Record<string, unknown>;
    for (const m of methods) {
      const op: Record<string, unknown> = { summary: s.summary, tags: s.tags, responses: responses(s.response) };
      const params = [...parameters(s.params, 'path'), ...parameters(s.querystring, 'query')];
      if (params.length) op.parameters = params;
      if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: openApiSchema(s.body) } } };
      (paths[path] ??= {})[m.toLowerCase()] = op;
    }
  }
  return { openapi: '3.0.3', info, paths, components: { schemas } };
}

function parameters(schema: unknown, where: 'path' | 'query'): object[] {
  const p = schema as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  return Object.entries(p?.properties ?? {}).map(([name, s]) => ({
    name, in: where, required: where === 'path' || (p?.required ?? []).includes(name), schema: openApiSchema(s),
  }));
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

/** Copies a schema, replacing shared ones (other than `self`) by references. */
function openApiSchema(schema: unknown, self?: object): unknown {
  if (Array.isArray(schema)) return schema.map((s) => openApiSchema(s));
  if (typeof schema !== 'object' || schema === null) return schema;
  const ref = refs.get(schema);
  if (ref !== undefined && schema !== self) return { $ref: `#/components/schemas/${ref}` };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema as Record<string, unknown>)) out[k] = openApiSchema(v);
  return out;
}
