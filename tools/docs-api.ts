/**
 * `npm run docs:api`: writes the admin API's route table into the README (between the
 * api-table markers of "Administrator API") from the OpenAPI document the server serves, cluster
 * routes included. test/integration/openapi.test.ts fails while the README's table is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminApiContract } from '../src/app/httpApp.js';
import { apiTable, openApiDocument } from '../src/http/openapi.js';

const README = join(import.meta.dirname, '..', 'README.md');
const BEGIN = '<!-- api-table:begin (npm run docs:api writes this table from GET /api/openapi.json) -->';
const END = '<!-- api-table:end -->';

const text = readFileSync(README, 'utf8');
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < start) {
  console.error(`README.md has no ${BEGIN} ... ${END} markers`);
  process.exit(1);
}
const table = apiTable(openApiDocument(adminApiContract(true)));
const next = `${text.slice(0, start)}${BEGIN}\n${table}\n${text.slice(end)}`;
if (next === text) console.log('README.md: the route table is up to date');
else {
  writeFileSync(README, next);
  console.log('README.md: route table written');
}
