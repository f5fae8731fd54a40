// Mirrors of oidcc-backchannel-rp-initiated-logout-certification-test-plan (Back-Channel
// Logout 1.0, R-SES-5): the logout token is checked with `jose` against the published JWKS,
// as a service would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { fx, discovery, redeem, codeFor } from '../harness.mjs';

const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

// The service's back-channel endpoint: resolves with the first logout token it receives.
function receiveOne() {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        res.writeHead(200).end();
        server.close();
        resolve({ contentType: req.headers['content-type'], token: new URLSearchParams(body).get('logout_token') });
      });
    });
    server.listen(fx.backchannelPort, '127.0.0.1');
    setTimeout(() => { server.close(); reject(new Error('no logout token within 5 s')); }, 5000);
  });
}

test('oidcc-backchannel-rp-initiated-logout', async () => {
  assert.equal(discovery.backchannel_logout_supported, true);
  assert.equal(discovery.backchannel_logout_session_supported, true);
  const { code, browser } = await codeFor({ nonce: 'n-bcl' }, { client: fx.backchannel });
  const { json } = await redeem(code, fx.backchannel);
  const { payload: idToken } = await jwtVerify(json.id_token, jwks, { issuer: fx.issuer, audience: fx.backchannel.client_id });
  const received = receiveOne();
  const u = new URL(discovery.end_session_endpoint);
  u.searchParams.set('id_token_hint', json.id_token);
  const res = await browser.get(u.href);
  assert.equal(res.status, 200);
  const { contentType, token } = await received;
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
