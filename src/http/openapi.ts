/**
 * The admin API as an OpenAPI 3.1 document, generated from the routes' contract lists
 * (src/http/apiContract.ts): request bodies from the zod schemas the routes parse with (zod's own
 * `z.toJSONSchema`, JSON Schema 2020-12 as OpenAPI 3.1 uses), answers from the zod schemas of the
 * views, errors from the catalog (src/errors.ts). Built once at start; served at
 * GET /api/openapi.json without the admin token (a contract holds no secret: it says what the API
 * takes, not what is in it), and rendered as the README's route table (`npm run docs:api`).
 */
import express from 'express';
import { z } from 'zod';
import { ERRORS, type HttpErrorCode } from '../errors.js';
import { allNamedSchemas, type ApiOperation, apiSchemas, operation, type RawContent } from './apiContract.js';
import { errorBody } from './sendError.js';

/** The contract's own version: bump the minor for an added route or field, the major for a removal. */
export const ADMIN_API_VERSION = '1.0.0';

/** Answered by the admin API's authentication to any route but a public one. */
const AUTH_ERRORS: readonly HttpErrorCode[] = ['UNAUTHORIZED', 'FORBIDDEN', 'RATE_LIMITED', 'ADMIN_DISABLED'];
/** Answered by the JSON body parser to any route that takes a JSON body. */
const BODY_ERRORS: readonly HttpErrorCode[] = ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

/** GET /api/openapi.json itself. */
export const openApiContract = [
  operation('get', '/openapi.json', 'getOpenApi', 'This document (no token needed)', {
    responses: { 200: { contentType: 'application/json', description: 'the OpenAPI 3.1 document of the admin API' } },
    public: true,
  }),
];

type Json = Record<string, unknown>;

const isRaw = (x: z.ZodType | RawContent): x is RawContent => !(x instanceof z.ZodType);
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** '/rooms/:id' -> '/api/rooms/{id}' */
export const openApiPath = (path: string) => `/api${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;

/**
 * A raw answer's media type: for an event stream, its events' schemas by event name under
 * `x-events` (OpenAPI 3.1 has no first-class server-sent events; 3.2's `itemSchema` describes the
 * stream's items, not the JSON in each `data:`). `refOf` names a schema in components.
 */
function rawMedia(answer: RawContent, refOf: (schema: z.ZodType, name: string) => Json): Json {
  if (!answer.events) return {};
  const events: Json = {};
  for (const [name, schema] of Object.entries(answer.events)) events[name] = refOf(schema, `${name[0]!.toUpperCase()}${name.slice(1)}Event`);
  return { 'x-events': events };
}

/** The document of `operations` (each path at most once per method). */
export function openApiDocument(operations: readonly ApiOperation[]): Json {
  // Answers and bodies convert apart: an answer shows what the server writes (io "output": no
  // property beyond those listed), a body what it accepts (io "input": defaults optional).
  const answers = z.registry<{ id: string }>();
  const bodies = z.registry<{ id: string }>();
  const nameOf = new Map<z.ZodType, string>();
  const named = (registry: typeof answers, schema: z.ZodType, fallback: string): string => {
    const name = nameOf.get(schema) ?? apiSchemas.get(schema)?.id ?? fallback;
    if (!nameOf.has(schema)) {
      registry.add(schema, { id: name });
      nameOf.set(schema, name);
    }
    return name;
  };
  // Named schemas first: answers that hold one refer to it.
  named(answers, errorBody, 'Error');
  for (const schema of allNamedSchemas()) named(answers, schema, '');

  const paths: Record<string, Record<string, Json>> = {};
  const seen = new Set<string>();
  for (const op of operations) {
    const key = `${op.method} ${op.path}`;
    if (seen.has(key)) throw new Error(`the contract lists ${key} twice`);
    if (seen.has(op.id)) throw new Error(`the contract uses the operationId ${op.id} twice`);
    seen.add(key).add(op.id);

    const parameters: Json[] = [...op.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    for (const [name, q] of Object.entries(op.query ?? {})) {
      parameters.push({
        name,
        in: 'query',
        required: false,
        description: q.description,
        schema: z.toJSONSchema(q.schema, { io: 'input', target: 'draft-2020-12' }),
      });
    }
    for (const p of parameters) delete (p['schema'] as Json)['$schema'];

    const responses: Record<string, Json> = {};
    for (const [status, answer] of Object.entries(op.responses)) {
      responses[status] = isRaw(answer)
        ? {
            description: answer.description,
            content: { [answer.contentType]: rawMedia(answer, (schema, name) => ref(named(answers, schema, `${op.id}${name}`))) },
          }
        : {
            description: `${apiSchemas.get(answer)?.description ?? 'success'}`,
            content: { 'application/json': { schema: ref(named(answers, answer, `${op.id}${status}`)) } },
          };
    }
    const jsonBody = op.body !== undefined && !isRaw(op.body);
    const codes = [...(op.errors ?? []), ...(op.public ? [] : AUTH_ERRORS), ...(jsonBody ? BODY_ERRORS : []), 'INTERNAL' as const];
    const byStatus = new Map<number, HttpErrorCode[]>();
    for (const code of codes) {
      const status = ERRORS[code].httpStatus;
      const list = byStatus.get(status) ?? [];
      if (!list.includes(code)) list.push(code);
      byStatus.set(status, list);
    }
    for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
      responses[String(status)] = {
        description: list.join(', '),
        content: {
          'application/json': {
            // The Error body, its code narrowed to those this route answers with this status.
            schema: { allOf: [ref('Error'), { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: list } } } } }] },
          },
        },
      };
    }

    const entry: Json = { operationId: op.id, summary: op.summary, responses };
    if (parameters.length) entry['parameters'] = parameters;
    if (op.body !== undefined) {
      entry['requestBody'] = isRaw(op.body)
        ? { required: true, description: op.body.description, content: { [op.body.contentType]: {} } }
        : { required: true, content: { 'application/json': { schema: ref(named(bodies, op.body, `${op.id}Request`)) } } };
    }
    if (op.public) entry['security'] = [];
    const path = openApiPath(op.path);
    paths[path] ??= {};
    paths[path][op.method] = entry;
  }

  const schemas: Record<string, Json> = {};
  for (const [registry, io] of [
    [answers, 'output'],
    [bodies, 'input'],
  ] as const) {
    const converted = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}`, target: 'draft-2020-12' }).schemas;
    for (const [name, schema] of Object.entries(converted)) {
      const { $schema: _s, $id: _i, ...rest } = schema as Json;
      schemas[name] = rest;
    }
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Conference mixer admin API',
      version: ADMIN_API_VERSION,
      description:
        'Rooms, their callers and what they hear. Every route but this document wants `Authorization: Bearer <ADMIN_TOKEN>`; ' +
        'refusals are `{"error": {"code", "message"}}` with a code from the error catalog.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ adminToken: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' } },
    },
  };
}

/** GET /openapi.json (mount under /api, before the admin API: it needs no token). */
export function openApiRouter(document: Json): express.Router {
  const router = express.Router();
  const text = JSON.stringify(document);
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').set('Cache-Control', 'no-cache').send(text);
  });
  return router;
}

/** Codes every admin route may answer: the table leaves them out (the README says them once). */
const COMMON_ERRORS = new Set<string>([...AUTH_ERRORS, 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL']);

/** The README's table of the routes: method, path, summary, request, answers and errors, from `document`. */
export function apiTable(document: Json): string {
  const refName = (schema: unknown) => String((schema as { $ref?: string } | undefined)?.$ref ?? '').replace('#/components/schemas/', '');
  const contentOf = (content: Record<string, { schema?: unknown }> | undefined) => {
    const [type, media] = Object.entries(content ?? {})[0] ?? [];
    if (!type) return '';
    return type === 'application/json' && media?.schema ? `\`${refName(media.schema)}\`` : type;
  };
  const rows = ['| Method | Path | Summary | Body | Answers | Errors (beside those every route has) |', '| --- | --- | --- | --- | --- | --- |'];
  for (const [path, methods] of Object.entries(document['paths'] as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op['requestBody'] as { content?: Record<string, { schema?: unknown }> } | undefined;
      const responses = op['responses'] as Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
      const ok = Object.entries(responses)
        .filter(([status]) => Number(status) < 400)
        .map(([status, r]) => `${status} ${contentOf(r.content)}`);
      const errors = Object.entries(responses)
        .filter(([status]) => Number(status) >= 400)
        .flatMap(([status, r]) => r.description.split(', ').flatMap((code) => (COMMON_ERRORS.has(code) ? [] : [`${status} ${code}`])));
      rows.push(`| ${method.toUpperCase()} | \`${path}\` | ${op['summary']} | ${contentOf(body?.content)} | ${ok.join(', ')} | ${errors.join(', ')} |`);
    }
  }
  return rows.join('\n');
}
