/**
 * The admin API's contract, route by route: each router file lists its routes with `operation(...)`
 * beside the handlers, naming the zod schema the handler validates its body with and the zod
 * schemas of what it answers. src/http/openapi.ts turns the lists into the OpenAPI 3.1 document
 * served at GET /api/openapi.json; test/integration/openapi.test.ts holds the lists to the routes
 * the routers really have and to real answers. One source of truth: the schemas that check a
 * request are the ones the document shows.
 *
 * Adding a route to the document is one line beside it:
 *
 *   operation('post', '/rooms/:id/invites', 'createInvite', 'Create an invite link', { body: createBody, responses: { 201: inviteCreated }, errors: ['BAD_REQUEST', 'NOT_FOUND'] })
 *
 * in a list the router file exports (e.g. `invitesContract`), and that list in ADMIN_CONTRACT's
 * composition (src/app/httpApp.ts).
 */
import { z } from 'zod';
import type { HttpErrorCode } from '../errors.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A body or answer that is not JSON (a WAV file, an event stream). */
export interface RawContent {
  readonly contentType: string;
  readonly description: string;
  /**
   * An event stream's events (text/event-stream): each event name's `data:` as a zod schema.
   * OpenAPI 3.1 has no place for them: the document lists them under the media type's `x-events`.
   */
  readonly events?: Readonly<Record<string, z.ZodType>>;
}

export interface OperationSpec {
  /** The JSON body the route validates (the very schema it parses with), or a raw body. */
  readonly body?: z.ZodType | RawContent;
  /** Query parameters, each a string schema. */
  readonly query?: Readonly<Record<string, { readonly description: string; readonly schema: z.ZodType }>>;
  /** Success answers by HTTP status. */
  readonly responses: Readonly<Record<number, z.ZodType | RawContent>>;
  /** Catalog codes the route itself answers (the admin API's authentication adds its own). */
  readonly errors?: readonly HttpErrorCode[];
  /** Reachable without the admin token. */
  readonly public?: boolean;
}

export interface ApiOperation extends OperationSpec {
  readonly method: HttpMethod;
  /** Express form, under /api: '/rooms/:id'. */
  readonly path: string;
  /** OpenAPI operationId: what a generated client names the call. */
  readonly id: string;
  readonly summary: string;
}

/** One route of the admin API, as the document shows it. */
export function operation(method: HttpMethod, path: string, id: string, summary: string, spec: OperationSpec): ApiOperation {
  return { method, path, id, summary, ...spec };
}

/**
 * Schemas with a name of their own in the document (components/schemas): the views answers share.
 * Others get a name from their operation (`createRoomRequest`, `listRooms200`).
 */
export const apiSchemas = z.registry<{ id: string; description?: string }>();
const namedSchemas: z.ZodType[] = [];

/** `schema`, registered under `id` in apiSchemas. */
export function named<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  apiSchemas.add(schema, description ? { id, description } : { id });
  namedSchemas.push(schema);
  return schema;
}

/** Every schema given a name, in the order named. */
export const allNamedSchemas = (): readonly z.ZodType[] => namedSchemas;

/** An ISO 8601 time in UTC as the views write it (Date#toISOString). */
export const isoTime = z.iso.datetime();
