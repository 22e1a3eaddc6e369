/**
 * Issue 18 part A: the admin API's OpenAPI 3.1 contract (GET /api/openapi.json), held to the
 * routes the server really has (walked from Express's router stacks, not listed by hand) and to
 * the real answers of a scripted session with live simulated callers, validated by a JSON Schema
 * validator against the served document (what clients use).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import express from 'express';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { adminApiContract } from '../../src/app/httpApp.js';
import { encodeWav } from '../../src/audio/wav.js';
import { clusterApi, FORWARD_ERRORS, forwardRoomRequests } from '../../src/cluster/forward.js';
import type { ClusterNode } from '../../src/cluster/node.js';
import type { NodeState } from '../../src/cluster/types.js';
import { apiTable, openApiDocument, openApiPath } from '../../src/http/openapi.js';
import { join, toneMulaw } from '../helpers/calls.js';
import { type LiveEvent, readLive } from '../helpers/live.js';
import { tone } from '../helpers/audio.js';
import { captureLog } from '../helpers/log.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'openapi-test-token-0123456789abcdef';
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

type Json = Record<string, any>;
interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  /** The router's: false, or the part of `path` the layer's mount path matched. */
  match(path: string): false | { path: string };
}

/** Every `METHOD /path` (OpenAPI form) a router and the routers it mounts at its root have. */
function routesOf(stack: Layer[], prefix: string): string[] {
  const found: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths)
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) found.push(`${method} ${prefix}${openApiPath(path).slice(4)}`);
    } else if (layer.handle.stack) {
      // A router mounted inside: the admin API mounts its extra routers at its own root.
      const mount = layer.match('/rooms');
      assert.ok(mount && mount.path === '', 'a router inside the admin API is mounted at its root');
      found.push(...routesOf(layer.handle.stack, prefix));
    }
  }
  return found;
}

/** The routes of every router the app mounts at /api. */
function apiRoutesOf(app: express.Express): string[] {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  const found: string[] = [];
  for (const layer of stack) {
    if (!layer.handle.stack) continue;
    const mount = layer.match('/api/openapi-walk');
    if (mount && mount.path === '/api') found.push(...routesOf(layer.handle.stack, '/api'));
  }
  return found;
}

/** `app` on a free port of the loopback. */
async function listen(app: express.Express) {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const documentRoutes = (doc: Json): string[] =>
  Object.entries(doc['paths'] as Json).flatMap(([path, methods]) => Object.keys(methods as Json).map((method) => `${method} ${path}`));

describe('the OpenAPI contract', () => {
  let t: TestServer;
  let doc: Json;
  let recordingsDir: string;
  let ajv: Ajv2020;
  /** Every `METHOD /path` whose real answer was validated, and how many answers were. */
  const exercised = new Set<string>();
  let validated = 0;
  /** The live feed's events read during the scripted session, and A's input level when it talked. */
  const liveEvents: LiveEvent[] = [];
  let talkingLevelDbfs = Number.NaN;

  before(async () => {
    recordingsDir = await mkdtemp(joinPath(tmpdir(), 'openapi-rec-'));
    t = await startTestServer({ ADMIN_TOKEN: ADMIN, MAX_PARTICIPANTS_PER_ROOM: '10', RECORDINGS_DIR: recordingsDir });
    const res = await fetch(`${t.baseUrl}/api/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = (await res.json()) as Json;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...doc, $id: 'doc' });
  });
  after(async () => {
    await t.close();
    await rm(recordingsDir, { recursive: true, force: true });
  });

  /** The document's template for a concrete path ('/api/rooms/4100' -> '/api/rooms/{id}'). */
  const templateOf = (method: string, url: string): string => {
    const path = url.split('?')[0]!;
    const matches = Object.keys(doc['paths']).filter((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path) && doc['paths'][p][method]);
    // A literal segment beats a parameter (/api/rooms/{id}/end is not /api/rooms/{id}/{x}).
    matches.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    assert.ok(matches[0], `the document has ${method.toUpperCase()} ${path}`);
    return matches[0];
  };
  const pointer = (...parts: string[]) => `doc#/${parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

  /** Sends a request; its answer must be one the document lists, and match its schema. */
  async function call(method: string, url: string, options: { body?: unknown; raw?: Uint8Array; type?: string; token?: string | null } = {}) {
    const headers: Record<string, string> = {};
    const token = options.token === undefined ? ADMIN : options.token;
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.type) headers['content-type'] = options.type;
    const res = await fetch(t.baseUrl + url, {
      method,
      headers,
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    const m = method.toLowerCase();
    const template = templateOf(m, url);
    const answer = doc['paths'][template][m]['responses'][String(res.status)];
    assert.ok(answer, `${method} ${url} answered ${res.status}, which the document does not list for ${template}`);
    const [type] = Object.keys(answer.content ?? {});
    const contentType = res.headers.get('content-type') ?? '';
    assert.ok(type && contentType.startsWith(type), `${method} ${url}: content type ${contentType}, the document says ${type}`);
    let body: any = null;
    if (type === 'application/json') {
      body = await res.json();
      if (answer.content[type].schema) {
        const validate = ajv.getSchema(pointer('paths', template, m, 'responses', String(res.status), 'content', type, 'schema'));
        assert.ok(validate, 'the schema compiles');
        assert.ok(validate(body), `${method} ${url} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 400)}`);
        validated++;
      }
    } else {
      await res.body?.cancel();
    }
    exercised.add(`${m} ${template}`);
    return { status: res.status, body };
  }

  test('the served document is valid OpenAPI 3.1 and needs no token', async () => {
    assert.match(doc['openapi'], /^3\.1\.\d+$/);
    assert.equal(typeof doc['info'].title, 'string');
    assert.ok(Object.keys(doc['paths']).length >= 15, 'paths');
    assert.ok(doc['components'].schemas.RoomView && doc['components'].schemas.Error, 'components');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.deepEqual(result.errors, undefined);
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
    // The checker can fail: a document missing its info is refused.
    const broken = structuredClone(doc);
    delete broken['info'];
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  test('every admin route the server has is in the document, and every documented path is a route', () => {
    const app = t.server.httpServer.listeners('request')[0] as express.Express;
    const real = apiRoutesOf(app).sort();
    assert.ok(real.length >= 20, `routes found by walking the router stacks: ${real.length}`);
    assert.deepEqual(documentRoutes(doc).sort(), real);
    console.log(`# measured: ${real.length} admin routes walked from the Express router stacks, all in the document`);
  });

  test("a cluster's own routes are the cluster contract's", () => {
    const router = clusterApi({} as ClusterNode, captureLog('silent').log) as unknown as { stack: Layer[] };
    const cluster = openApiDocument(adminApiContract(true));
    const only = documentRoutes(cluster).filter((r) => !documentRoutes(doc).includes(r));
    assert.deepEqual(only.sort(), routesOf(router.stack, '/api').sort());
  });

  test("every route the cluster forwarder passes to a room's owner lists its refusals (OWNER_UNAVAILABLE); no other route does", async () => {
    // The real forwarder, its room's owner at a port nobody listens on: a route it forwards is
    // refused OWNER_UNAVAILABLE, a route it does not reaches the app behind it (418 here).
    const closed = await listen(express());
    const gone = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    closed.close();
    await once(closed, 'close');
    const app = express();
    const owner: NodeState = {
      id: 'gone',
      publicPrefix: '/p/9',
      internalUrl: gone,
      draining: false,
      load: { rooms: 1, calls: 1, tickP99Ms: 0, loopDelayP99Ms: 0 },
      at: Date.now(),
    };
    const { log, lines } = captureLog('warn');
    app.use('/api', forwardRoomRequests({ selfId: 'here', adminToken: ADMIN, ownerOf: async () => owner, log }));
    app.use((_req, res) => void res.status(418).end());
    const server = await listen(app);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cluster = openApiDocument(adminApiContract(true)) as Json;
    const forwarded: string[] = [];
    const documented: string[] = [];
    try {
      for (const [path, methods] of Object.entries(cluster['paths'] as Json)) {
        for (const [method, op] of Object.entries(methods as Json)) {
          const url = path.replace(/\{[^}]+\}/g, (p) => (p === '{id}' ? '4100' : 'x'));
          const res = await fetch(base + url, { method: method.toUpperCase(), headers: { authorization: `Bearer ${ADMIN}` } });
          const text = await res.text();
          const body = res.status === 418 ? null : (JSON.parse(text || `{"status": ${res.status}}`) as Json);
          if (res.status === 503 && body?.['error'].code === 'OWNER_UNAVAILABLE') forwarded.push(`${method} ${path}`);
          else assert.equal(res.status, 418, `${method} ${url}: ${JSON.stringify(body)}`);
          const responses = (op as Json)['responses'] as Record<string, { description: string }>;
          const codes = Object.values(responses).flatMap((r) => r.description.split(', '));
          if (FORWARD_ERRORS.every((code) => codes.includes(code))) documented.push(`${method} ${path}`);
        }
      }
      // A body too large to pass on is refused with the catalog's code, not as an absent owner.
      const big = await fetch(`${base}/api/rooms/4100/announcements`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ audio: 'x'.repeat(70_000) }),
      });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as Json)['error'].code, 'PAYLOAD_TOO_LARGE');
    } finally {
      server.close();
    }
    assert.ok(forwarded.length >= 15, `routes forwarded: ${forwarded.length}`);
    assert.deepEqual(documented.sort(), forwarded.sort(), "the routes whose answers list the forwarder's refusals are those it forwards");
    // One node's document (no cluster) lists none of them.
    assert.ok(!JSON.stringify(doc['paths']).includes('OWNER_UNAVAILABLE'));
    assert.ok(lines.some((l) => l.msg === 'admin: the room owner did not answer'));
    console.log(`# measured: ${forwarded.length} routes forwarded to a room's owner, each documenting ${FORWARD_ERRORS.join(' and ')}`);
  });

  test('the real answers of a scripted session validate against the served document', async () => {
    // Refusals: no token, a wrong one.
    assert.equal((await call('GET', '/api/rooms', { token: null })).body.error.code, 'UNAUTHORIZED');
    assert.equal((await call('GET', '/api/rooms', { token: `${ADMIN}x` })).body.error.code, 'FORBIDDEN');
    await call('GET', '/api/openapi.json', { token: null });
    // The live feed, read through the session: every event is checked against the document below.
    const feed = await readLive(t.baseUrl, ADMIN);
    const snapshot = (what: string, accept: (rooms: Json[]) => boolean) => feed.next((e) => e.event === 'snapshot' && accept(e.data.rooms), what);
    const room4100 = (rooms: Json[]) => rooms.find((r) => r['id'] === '4100');

    // Rooms.
    const created = await call('POST', '/api/rooms', { body: { id: '4100', label: 'Contract', pin: '2468', startMuted: false } });
    assert.equal(created.status, 201);
    await snapshot('the room created', (rooms) => room4100(rooms)?.['administered'] === true);
    assert.equal((await call('POST', '/api/rooms', { body: { id: '4100' } })).status, 409);
    assert.equal((await call('POST', '/api/rooms', { body: { id: '4101', colour: 'red' } })).status, 400);
    assert.equal((await call('POST', '/api/rooms', { body: { id: '4101', maxParticipants: 50 } })).status, 422);
    assert.equal((await call('POST', '/api/rooms', { raw: new TextEncoder().encode('{nope'), type: 'application/json' })).status, 400);
    assert.equal((await call('GET', '/api/rooms/9999')).status, 404);
    assert.equal((await call('PATCH', '/api/rooms/4100', { body: { label: 'Contract room', maxParticipants: 8 } })).status, 200);

    // Live callers.
    const a = await join(t.baseUrl, ['4100', '2468'], { from: '+12025550100' });
    const b = await join(t.baseUrl, ['4100', '2468'], { from: '+447700900123' });
    try {
      const room = await call('GET', '/api/rooms/4100');
      assert.equal(room.body.participants.length, 2);
      assert.equal(room.body.participants[0].from, '+1******0100');
      assert.equal((await call('GET', '/api/rooms')).body.rooms.length, 1);
      await snapshot('two callers in', (rooms) => room4100(rooms)?.['participants'].length === 2);
      // A talks: the feed shows it talking, and its input level.
      await a.stream.play(toneMulaw(700, -12, 600), performance.now() + 20);
      const talking = await snapshot('A talking', (rooms) => room4100(rooms)?.['participants'].some((p: Json) => p['callSid'] === a.callSid && p['talking']));
      talkingLevelDbfs = room4100(talking.data.rooms)!['participants'].find((p: Json) => p['callSid'] === a.callSid)['levelDbfs'];
      assert.equal((await call('PATCH', `/api/rooms/4100/participants/${a.callSid}`, { body: { muted: true } })).body.muted, true);
      await snapshot('A muted', (rooms) => room4100(rooms)?.['participants'].some((p: Json) => p['callSid'] === a.callSid && p['muted']));
      assert.equal((await call('PATCH', `/api/rooms/4100/participants/${a.callSid}`, { body: { coaching: a.callSid } })).status, 400);
      assert.equal((await call('PATCH', '/api/rooms/4100/participants/CAnobody', { body: { hold: true } })).status, 404);
      assert.equal((await call('POST', '/api/rooms/4100/mute-all', { body: { muted: false } })).body.changed, 1);

      // The audio library and an announcement.
      const wav = encodeWav({ sampleRateHz: 16_000, samples: tone(700, -12, 400) });
      assert.equal((await call('PUT', '/api/audio/contract-tone', { raw: wav, type: 'audio/wav' })).status, 201);
      assert.equal((await call('PUT', '/api/audio/contract-tone', { raw: wav, type: 'audio/wav' })).status, 200);
      assert.ok((await call('GET', '/api/audio')).body.audio.some((c: { name: string }) => c.name === 'contract-tone'));
      assert.equal((await call('POST', '/api/rooms/4100/announcements', { body: { audio: 'contract-tone', to: b.callSid } })).status, 202);
      assert.equal((await call('POST', '/api/rooms/4100/announcements', { body: { audio: 'no-such-clip' } })).status, 400);

      // Invites and dial-outs (no Twilio credentials here: 503).
      const invite = await call('POST', '/api/rooms/4100/invites', { body: { ttlSeconds: 600, uses: 2 } });
      assert.equal(invite.status, 201);
      assert.equal((await call('GET', '/api/rooms/4100/invites')).body.invites.length, 1);
      assert.equal((await call('DELETE', `/api/rooms/4100/invites/${invite.body.id}`)).status, 200);
      assert.equal((await call('DELETE', `/api/rooms/4100/invites/${invite.body.id}x`)).status, 404);
      assert.deepEqual((await call('GET', '/api/rooms/4100/dial-outs')).body, { dialOuts: [] });
      assert.equal((await call('POST', '/api/rooms/4100/participants', { body: { to: '+15005550006' } })).body.error.code, 'TWILIO_NOT_CONFIGURED');

      // A recording.
      const rec = await call('POST', '/api/rooms/4100/recording', { body: { tracks: false } });
      assert.equal(rec.status, 201);
      assert.equal((await call('POST', '/api/rooms/4100/recording', { body: {} })).status, 409);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await snapshot('the room recording', (rooms) => room4100(rooms)?.['recording']?.active === true);
      assert.equal((await call('DELETE', '/api/rooms/4100/recording')).body.active, false);
      assert.equal((await call('GET', '/api/recordings')).body.recordings.length, 1);
      assert.equal((await call('GET', `/api/recordings/${rec.body.id}`)).status, 200);
      assert.equal((await call('DELETE', `/api/recordings/${rec.body.id}`)).status, 200);

      // The live feed: an event stream.
      assert.equal((await call('GET', '/api/live')).status, 200);

      // Kick one caller, end the room, delete it.
      assert.equal((await call('DELETE', `/api/rooms/4100/participants/${b.callSid}`)).body.kicked, true);
      await snapshot('B gone', (rooms) => room4100(rooms)?.['participants'].length === 1);
      assert.equal((await call('DELETE', `/api/rooms/4100/participants/${a.callSid}?hangup=true`)).status, 422);
      assert.equal((await call('POST', '/api/rooms/4100/end')).body.participantsRemoved, 1);
      await snapshot('the room ended', (rooms) => room4100(rooms)?.['participants'].length === 0);
      // A program's ticket (not used: its seat lapses), and a bad body.
      assert.equal((await call('POST', '/api/rooms/4100/programs', { body: { label: 'Transcriber', role: 'listener', format: 'pcm16-16k' } })).status, 201);
      assert.equal((await call('POST', '/api/rooms/4100/programs', { body: { label: 'x', format: 'opus' } })).status, 400);
      // Rooms as code: the file out, a dry run of it back, a refused file.
      const file = await call('GET', '/api/rooms-file');
      assert.ok(file.body.rooms.some((r: { number: string }) => r.number === '4100'));
      assert.equal((await call('POST', '/api/rooms-file/import', { body: { rooms: file.body.rooms, dryRun: true } })).body.unchanged.length, 1);
      assert.equal((await call('POST', '/api/rooms-file/import', { body: { rooms: [{ number: '4100', pin: '12' }] } })).status, 400);
      assert.equal((await call('DELETE', '/api/audio/contract-tone')).status, 200);
      assert.equal((await call('DELETE', '/api/rooms/4100')).body.deleted, true);
      assert.equal((await call('DELETE', '/api/rooms/4100')).status, 404);
      await snapshot('the room deleted', (rooms) => room4100(rooms) === undefined);
      await feed.next((e) => e.event === 'health', 'a health sample', 2000);
    } finally {
      a.stream.terminate();
      b.stream.terminate();
      await feed.stop();
    }
    liveEvents.push(...feed.events);

    // Every route the document lists was called and its answer checked.
    assert.deepEqual(
      documentRoutes(doc)
        .filter((r) => !exercised.has(r))
        .sort(),
      [],
    );
    console.log(
      `# measured: ${validated} JSON answers validated against the served document, ${exercised.size} of ${documentRoutes(doc).length} routes exercised`,
    );
  });

  test("every event the live feed sent in the session validates against its schema in the document (x-events), and every schema's event was sent", () => {
    const media = doc['paths']['/api/live'].get.responses['200'].content['text/event-stream'];
    const documented = Object.keys(media['x-events']).sort();
    assert.deepEqual(documented, ['health', 'history', 'snapshot']);
    const counts: Record<string, number> = {};
    for (const { event, data } of liveEvents) {
      assert.ok(documented.includes(event), `the feed sent a \`${event}\` event, which has no schema in the document`);
      const validate = ajv.getSchema(pointer('paths', '/api/live', 'get', 'responses', '200', 'content', 'text/event-stream', 'x-events', event))!;
      assert.ok(validate(data), `${event}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(data).slice(0, 400)}`);
      counts[event] = (counts[event] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(counts).sort(), documented, 'every documented event was sent');
    // The schemas can refuse: a snapshot room with a field the contract lacks, a sample with a wrong type.
    const snap = structuredClone(liveEvents.find((e) => e.event === 'snapshot' && e.data.rooms.length > 0)!.data);
    snap.rooms[0].secret = true;
    assert.equal(ajv.getSchema('doc#/components/schemas/LiveSnapshot')!(snap), false);
    const sample = { ...liveEvents.find((e) => e.event === 'health')!.data, overloaded: 'no' };
    assert.equal(ajv.getSchema('doc#/components/schemas/LiveHealthSample')!(sample), false);
    // A's -12 dBFS-peak tone (-15 dBFS RMS) shows in the feed as its input level.
    assert.ok(talkingLevelDbfs > -24 && talkingLevelDbfs < -9, `A's level in the feed while talking: ${talkingLevelDbfs} dBFS`);
    console.log(
      `# measured: ${liveEvents.length} live events validated (${Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}); A's level in the feed while talking ${talkingLevelDbfs} dBFS`,
    );
  });

  test('the validation can fail: an answer with a field the contract lacks, or a wrong type, is refused', () => {
    const room = ajv.getSchema('doc#/components/schemas/RoomView')!;
    const good = {
      id: '1',
      label: null,
      hasPin: false,
      hasModeratorPin: false,
      locked: false,
      maxParticipants: null,
      seatLimit: 10,
      administered: true,
      backgroundGate: null,
      noiseSuppression: null,
      soundInForce: null,
      waitForModerator: false,
      endWhenModeratorLeaves: false,
      startMuted: false,
      waitingForModerator: false,
      waitMusic: null,
      holdMusic: null,
      participants: 0,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: null,
    };
    assert.equal(room(good), true);
    assert.equal(room({ ...good, secret: 'x' }), false);
    assert.equal(room({ ...good, locked: 'no' }), false);
    const { label: _label, ...missing } = good;
    assert.equal(room(missing), false);
  });

  test("a route's body schema in the document is the zod schema it validates with", async () => {
    // The server's answer to a body and the document's verdict on it agree.
    const body = ajv.getSchema(pointer('paths', '/api/rooms', 'post', 'requestBody', 'content', 'application/json', 'schema'))!;
    const cases: [unknown, boolean][] = [
      [{ id: '4200', pin: '2468', maxParticipants: 5, waitMusic: null }, true],
      [{ id: '4201', colour: 'red' }, false],
      [{ id: '4202', pin: '12' }, false],
      [{ id: '4203', maxParticipants: 0 }, false],
      [{ id: '4204', label: 'x'.repeat(101) }, false],
    ];
    for (const [value, valid] of cases) {
      assert.equal(body(value), valid, `the document on ${JSON.stringify(value)}`);
      const res = await fetch(`${t.baseUrl}/api/rooms`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify(value),
      });
      assert.equal(res.status, valid ? 201 : 400, `the server on ${JSON.stringify(value)}`);
    }
  });

  test("the README's route table is the document's (npm run docs:api writes it)", () => {
    const readme = readFileSync(joinPath(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const table = /<!-- api-table:begin[^>]*-->\n([\s\S]*?)\n<!-- api-table:end -->/.exec(readme)?.[1];
    assert.ok(table, 'the README has the api-table markers');
    assert.equal(table, apiTable(openApiDocument(adminApiContract(true))), 'README route table is stale: run npm run docs:api');
  });
});
