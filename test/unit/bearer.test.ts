/**
 * The admin token on a request, read one way by the admin API, /join/ticket and a cluster's
 * forwarding (src/security/bearer.ts), and the constant-time compare every secret goes through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerToken, hasBearer, sameSecret } from '../../src/security/bearer.js';

const TOKEN = 'an-admin-token-of-some-length';

test('bearerToken takes "Bearer <token>", the scheme in any case, any spaces after it', () => {
  assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
  assert.equal(bearerToken(`bearer ${TOKEN}`), TOKEN);
  assert.equal(bearerToken(`BEARER ${TOKEN}`), TOKEN);
  assert.equal(bearerToken(`Bearer    ${TOKEN}`), TOKEN, 'extra spaces after the scheme');
  assert.equal(bearerToken(`Bearer\t${TOKEN}`), TOKEN, 'a tab after the scheme');
  assert.equal(bearerToken(`Bearer ${TOKEN}  `), TOKEN, 'trailing spaces');
});

test('bearerToken refuses another scheme, no token, a token with spaces, no header', () => {
  assert.equal(bearerToken(`Basic ${TOKEN}`), null, 'wrong scheme');
  assert.equal(bearerToken(`Token ${TOKEN}`), null, 'wrong scheme');
  assert.equal(bearerToken(TOKEN), null, 'no scheme');
  assert.equal(bearerToken(`Bearer${TOKEN}`), null, 'no space after the scheme');
  assert.equal(bearerToken('Bearer '), null, 'empty token');
  assert.equal(bearerToken('Bearer'), null, 'empty token');
  assert.equal(bearerToken(`Bearer ${TOKEN} extra`), null, 'two words: not the first of them');
  assert.equal(bearerToken(` Bearer ${TOKEN}`), null, 'space before the scheme');
  assert.equal(bearerToken(''), null);
  assert.equal(bearerToken(undefined), null);
});

test('sameSecret: equal strings only, whatever the lengths', () => {
  assert.equal(sameSecret('abc', 'abc'), true);
  assert.equal(sameSecret('abc', 'abd'), false);
  assert.equal(sameSecret('abc', 'abcd'), false, 'a prefix is not the secret');
  assert.equal(sameSecret('abcd', 'abc'), false, 'nor is a longer string');
  assert.equal(sameSecret('', 'abc'), false, 'empty');
  assert.equal(sameSecret('', ''), true);
  assert.equal(sameSecret('é', 'e\u0301'), false, 'compared as given, not normalised');
});

test('hasBearer: the header carries exactly the expected token', () => {
  assert.equal(hasBearer(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(hasBearer(`bearer   ${TOKEN}`, TOKEN), true, 'the form the admin API accepts, forwarded as such');
  assert.equal(hasBearer(`Bearer ${TOKEN}x`, TOKEN), false, 'longer');
  assert.equal(hasBearer(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN), false, 'shorter');
  assert.equal(hasBearer(`Basic ${TOKEN}`, TOKEN), false, 'wrong scheme');
  assert.equal(hasBearer('Bearer ', TOKEN), false, 'empty token');
  assert.equal(hasBearer(undefined, TOKEN), false);
});
