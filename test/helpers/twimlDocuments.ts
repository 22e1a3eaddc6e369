/** The reviewed TwiML documents in twiml/, filled in for comparison with what the webhooks answer. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const twimlDir = join(import.meta.dirname, '..', '..', 'twiml');

const escapeXml = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A twiml/ document with its placeholders filled, comments dropped and layout whitespace removed. */
export function documentOf(name: string, values: Record<string, string | number>): string {
  let xml = readFileSync(join(twimlDir, name), 'utf8');
  xml = xml.replace(/<!--[\s\S]*?-->/g, '');
  xml = xml.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    assert.ok(key in values, `placeholder {{${key}}} of ${name} has a value`);
    return escapeXml(String(values[key]));
  });
  return normalise(xml);
}

/** Layout whitespace between elements removed. */
export function normalise(xml: string): string {
  return xml.replace(/>\s+</g, '><').trim();
}
