// Mirrors of oidcc-backchannel-rp-initiated-logout-certification-test-plan (Back-Channel
// Logout 1.0, R-SES-5): the logout token is checked with `jose` against the published JWKS,
// as a service would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { fx, discovery, redeem, codeFor } from '../harness.mjs';

const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

// What the service's back-channel endpoint (held by run.mjs) received, as { contentType, token }.
async function received(pred) {
  for (let i = 0; i < 50; i++) {
    const lines = readFileSync(fx.backchannelLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    for (const l of lines) {
      const token = new URLSearchParams(l.body).get('logout_token');
      if (token && pred(decodeJwt(token))) return { contentType: l.contentType, token };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no logout token within 5 s');
}

test('oidcc-backchannel-rp-initiated-logout', async () => {
  assert.equal(discovery.backchannel_logout_supported, true);
  assert.equal(discovery.backchannel_logout_session_supported, true);
  const { code, browser } = await codeFor({ nonce: 'n-bcl' }, { client: fx.backchannel });
  const { json } = await redeem(code, fx.backchannel);
  const { payload: idToken } = await jwtVerify(json.id_token, jwks, { issuer: fx.issuer, audience: fx.backchannel.client_id });
  const u = new URL(discovery.end_session_endpoint);
  u.searchParams.set('id_token_hint', json.id_token);
  const res = await browser.get(u.href);
  assert.equal(res.status, 200);
  const { contentType, token } = await received((p) => p.sid === idToken.sid);
  assert.match(contentType, /application\/x-www-form-urlencoded/);
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: fx.issuer, audience: fx.backchannel.client_id, typ: 'logout+jwt', maxTokenAge: 120,
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
  assert.equal(payload.sub, idToken.sub);
  assert.equal(payload.sid, idToken.sid);
  assert.equal(payload.nonce, undefined);
  assert.ok(payload.jti);
});
