// Interop: the certified `openid-client` library (v6) as relying party performs whole flows:
// discovery, code flow with PKCE, state and nonce (and RFC 9207 iss checking), userinfo,
// refresh, introspection, revocation and RP-initiated logout; once confidential, once public.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as oc from 'openid-client';
import { fx, Browser } from '../harness.mjs';

async function flow(config, scope) {
  const browser = new Browser();
  const pkceCodeVerifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const nonce = oc.randomNonce();
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: fx.rp, scope, state, nonce,
    code_challenge: await oc.calculatePKCECodeChallenge(pkceCodeVerifier), code_challenge_method: 'S256',
  });
  const end = await browser.walk(url.href, { login: fx.user });
  const tokens = await oc.authorizationCodeGrant(config, end.url, { pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { browser, tokens };
}

test('openid-client confidential client: code flow, userinfo, refresh, introspection, revocation, logout', async () => {
  const config = await oc.discovery(new URL(fx.issuer), fx.basic.client_id, fx.basic.client_secret, oc.ClientSecretBasic(fx.basic.client_secret), { execute: [oc.allowInsecureRequests] });
  const { browser, tokens } = await flow(config, 'openid profile email address');
  const claims = tokens.claims();
  assert.equal(claims.acr, 'urn:servicekonto:acr:plus');
  assert.deepEqual(claims.amr, ['pwd']);

  const info = await oc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, fx.user.email);
  assert.equal(info.address.locality, 'Köln');

  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, claims.sub);

  const active = await oc.tokenIntrospection(config, refreshed.access_token);
  assert.equal(active.active, true);
  assert.equal(active.client_id, fx.basic.client_id);
  await oc.tokenRevocation(config, refreshed.access_token);
  assert.equal((await oc.tokenIntrospection(config, refreshed.access_token)).active, false);
  await oc.tokenRevocation(config, refreshed.refresh_token);
  await assert.rejects(oc.refreshTokenGrant(config, refreshed.refresh_token));

  const logout = oc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: fx.loggedOut, state: 'oc' });
  const res = await browser.get(logout.href);
  assert.equal(res.headers.get('location'), `${fx.loggedOut}?state=oc`);
});

test('openid-client public client with PKCE', async () => {
  const config = await oc.discovery(new URL(fx.issuer), fx.public.client_id, undefined, oc.None(), { execute: [oc.allowInsecureRequests] });
  const { tokens } = await flow(config, 'openid email');
  assert.equal(tokens.claims().aud, fx.public.client_id);
  const info = await oc.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.email, fx.user.email);
});

test('openid-client refuses a response whose iss names another issuer (mix-up defence works end to end)', async () => {
  const config = await oc.discovery(new URL(fx.issuer), fx.basic.client_id, fx.basic.client_secret, oc.ClientSecretBasic(fx.basic.client_secret), { execute: [oc.allowInsecureRequests] });
  const browser = new Browser();
  const pkceCodeVerifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const url = oc.buildAuthorizationUrl(config, { redirect_uri: fx.rp, scope: 'openid', state, code_challenge: await oc.calculatePKCECodeChallenge(pkceCodeVerifier), code_challenge_method: 'S256' });
  const end = await browser.walk(url.href, { login: fx.user });
  end.url.searchParams.set('iss', 'https://other-land.example');
  await assert.rejects(oc.authorizationCodeGrant(config, end.url, { pkceCodeVerifier, expectedState: state }));
});
