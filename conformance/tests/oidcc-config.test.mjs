// oidcc-config-certification-test-plan: oidcc-discovery-endpoint-verification, plus the JWKS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fx, discovery } from '../harness.mjs';

test('oidcc-discovery-endpoint-verification', async () => {
  const d = discovery;
  assert.equal(d.issuer, fx.issuer);
  for (const e of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    const u = new URL(d[e]);
    assert.ok(u.protocol === 'https:' || ['localhost', '127.0.0.1'].includes(u.hostname), `${e} is https outside localhost`);
    assert.equal(u.origin, new URL(fx.issuer).origin, e);
  }
  assert.ok(d.scopes_supported.includes('openid'));
  assert.ok(d.response_types_supported.includes('code'));
  assert.ok(d.subject_types_supported.every((t) => ['public', 'pairwise'].includes(t)));
  assert.ok(d.id_token_signing_alg_values_supported.includes('RS256'));
  assert.equal(d.claims_parameter_supported, true);
  assert.equal(d.authorization_response_iss_parameter_supported, true);
  for (const acr of ['urn:servicekonto:acr:basic', 'urn:servicekonto:acr:plus', 'STORK-QAA-Level-1', 'http://eidas.europa.eu/LoA/high']) assert.ok(d.acr_values_supported.includes(acr), acr);
  const oauth = await (await fetch(`${fx.issuer}/.well-known/oauth-authorization-server`)).json();
  assert.deepEqual(oauth, d, 'RFC 8414 metadata is the same document');
});

test('jwks-contains-only-public-signing-keys', async () => {
  const res = await fetch(discovery.jwks_uri);
  assert.equal(res.status, 200);
  const { keys } = await res.json();
  assert.ok(keys.length >= 1);
  for (const k of keys) {
    assert.ok(k.kid && k.use === 'sig' && k.alg, 'kid, use and alg');
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `no private member ${priv}`);
  }
  assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length, 'kids are unique');
});
