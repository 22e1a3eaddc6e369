/**
 * One error catalog (src/errors.ts) and one table of leave reasons (src/conference/leaveReason.ts),
 * and the README's tables are them: every code has a row, every row is a code the server uses,
 * with the same status. Also the responder's reading of errors that are not the catalog's own.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEAVE_REASONS } from '../../src/conference/leaveReason.js';
import { AppError, ERRORS, type ErrorEntry } from '../../src/errors.js';
import { refusalOf } from '../../src/http/sendError.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const entries = Object.entries(ERRORS) as [string, ErrorEntry][];

function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has "${heading}"`);
  const rest = README.slice(start + heading.length + 2);
  const end = rest.search(/\n## /);
  return end < 0 ? rest : rest.slice(0, end);
}

describe('the README is the catalog', () => {
  test('"WebSocket close codes" lists exactly the close codes of the catalog', () => {
    const table = section('## WebSocket close codes');
    const documented = new Set([...table.matchAll(/^\| (\d{4})\b/gm)].map((m) => Number(m[1])));
    const used = new Set(entries.filter(([, e]) => e.wsCode !== undefined).map(([, e]) => e.wsCode!));
    used.add(1000); // normal end (Twilio's stop)
    assert.deepEqual([...documented].sort(), [...used].sort());
    // The upgrade's refusals are HTTP statuses, listed there too.
    for (const code of ['SIGNATURE_INVALID', 'NOT_FOUND', 'SHUTTING_DOWN', 'TOO_MANY_SOCKETS'] as const) {
      assert.match(table, new RegExp(`HTTP [^|]*${ERRORS[code].httpStatus}`), code);
    }
  });

  test('"HTTP errors" lists exactly the HTTP codes of the catalog, each with its status', () => {
    const table = section('## HTTP errors');
    const documented = [...table.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    const catalog = entries
      .filter(([, e]) => e.httpStatus !== undefined)
      .map(([code, e]) => `${code} ${e.httpStatus}`)
      .sort();
    assert.deepEqual(documented, catalog);
  });

  test('status callbacks: Reason and ReasonConferenceEnded list exactly the leave-reason table', () => {
    const table = section('### Status callbacks');
    const row = (field: string) => {
      const line = table.split('\n').find((l) => l.startsWith(`| \`${field}\``));
      assert.ok(line, field);
      return [...line.split('|')[2]!.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).sort();
    };
    assert.deepEqual(row('Reason'), Object.keys(LEAVE_REASONS).sort());
    const ended = new Set<string>(Object.values(LEAVE_REASONS).map((m) => m.conferenceEnded));
    ended.add('room-failed'); // the room's tick failed: not a leave
    assert.deepEqual(row('ReasonConferenceEnded'), [...ended].sort());
  });
});

describe('the catalog', () => {
  test('every code maps to an HTTP status, a close code, or both, and has a text', () => {
    for (const [code, e] of entries) {
      assert.ok(e.httpStatus !== undefined || e.wsCode !== undefined, code);
      if (e.httpStatus !== undefined) assert.ok(e.httpStatus >= 400 && e.httpStatus < 600, code);
      if (e.wsCode !== undefined) assert.ok(e.wsCode === 1000 || (e.wsCode > 1000 && e.wsCode < 1012) || (e.wsCode >= 4000 && e.wsCode < 5000), code);
      assert.ok(e.text.length > 0, code);
    }
  });

  test('the calls that ended on purpose are the ones a cluster does not rejoin: left, kicked, room-closed, moderator-left', () => {
    const onPurpose = Object.entries(LEAVE_REASONS)
      .filter(([, m]) => m.endedOnPurpose)
      .map(([r]) => r)
      .sort();
    assert.deepEqual(onPurpose, ['kicked', 'left', 'moderator-left', 'room-closed']);
  });

  test('AppError: the message is the text, then the detail', () => {
    assert.equal(new AppError('PROTOCOL').message, 'message out of protocol order');
    assert.equal(new AppError('PROTOCOL', 'second start').message, 'message out of protocol order: second start');
    assert.equal(new AppError('PROTOCOL', 'second start').detail, 'second start');
  });
});

describe('refusalOf: what the responder answers for an error', () => {
  const bodyParser = (status: number, type: string, message: string) => Object.assign(new Error(message), { status, type });

  test("body-parser's errors keep their status, with the catalog's code", () => {
    assert.deepEqual(pick(refusalOf(bodyParser(413, 'entity.too.large', 'request entity too large'))), ['PAYLOAD_TOO_LARGE', 'request entity too large']);
    assert.deepEqual(pick(refusalOf(bodyParser(413, 'parameters.too.many', 'too many parameters'))), ['PAYLOAD_TOO_LARGE', 'too many parameters']);
    assert.deepEqual(pick(refusalOf(bodyParser(415, 'charset.unsupported', 'unsupported charset "UTF-7"'))), [
      'UNSUPPORTED_MEDIA_TYPE',
      'unsupported charset "UTF-7"',
    ]);
    assert.deepEqual(
      pick(refusalOf(bodyParser(400, 'entity.parse.failed', 'Unexpected token } in JSON'))),
      ['BAD_REQUEST', 'the body is not valid JSON'],
      "the parser's words are not echoed",
    );
    assert.deepEqual(pick(refusalOf(bodyParser(400, 'request.aborted', 'request aborted'))), ['BAD_REQUEST', 'request aborted']);
    assert.deepEqual(pick(refusalOf(bodyParser(404, 'ENOENT', 'Not Found'))), ['NOT_FOUND', undefined]);
  });

  test('an AppError is answered as itself; anything else is ours (null: a 500)', () => {
    assert.deepEqual(pick(refusalOf(new AppError('CONFLICT', 'room 1 exists'))), ['CONFLICT', 'room 1 exists']);
    assert.equal(refusalOf(new AppError('PROTOCOL')), null, 'a stream code has no HTTP status');
    assert.equal(refusalOf(new Error('boom')), null);
    assert.equal(refusalOf(Object.assign(new Error('upstream'), { status: 502 })), null);
    assert.equal(refusalOf(null), null);
    assert.equal(refusalOf('a string'), null);
  });

  function pick(e: AppError | null): [string, string | undefined] | null {
    return e && [e.code, e.detail];
  }
});
