/**
 * Issue 5: one table of close codes. Every WebSocket close code in src/errors.ts has a row in the
 * README's "WebSocket close codes" table, and every row there is a code the server uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS } from '../../src/errors.js';

test('the README close-code table and src/errors.ts list the same WebSocket codes', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## WebSocket close codes'));
  const table = section.slice(0, section.indexOf('\n## '));
  const documented = new Set([...table.matchAll(/^\| (\d{4})\b/gm)].map((m) => Number(m[1])));
  // Codes the server sends or the peer sees; upgrade and webhook refusals are HTTP statuses.
  const upgradeOnly = new Set(['SIGNATURE_MISSING', 'SIGNATURE_INVALID', 'NOT_ADMITTING', 'NOT_FOUND']);
  const used = new Set(Object.entries(ERRORS).filter(([code]) => !upgradeOnly.has(code)).map(([, e]) => e.wsCode as number));
  used.add(1000); // normal end (Twilio's stop)
  assert.deepEqual([...documented].sort(), [...used].sort());
  // SIGNATURE_MISSING's 400 is the webhooks' answer; an upgrade gets 403 either way.
  for (const code of ['SIGNATURE_INVALID', 'NOT_ADMITTING', 'NOT_FOUND']) assert.match(table, new RegExp(`HTTP [^|]*${ERRORS[code as keyof typeof ERRORS].httpStatus}`), code);
});
