// Mirrors of the OpenID Foundation's oidcc-basic-certification-test-plan modules
// (response_type=code, static client, client_secret_basic unless the module says otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { fx, discovery, Browser, authorizeUrl, redeem, tokenRequest, verifyIdToken, codeFor, userinfo, sleep } from '../harness.mjs';

test('oidcc-server', async () => {
  const nonce = 'n-server';
  const { code, url } = await codeFor({ scope: 'openid profile email', nonce, state: 's-server' });
  assert.equal(url.searchParams.get('state'), 's-server');
  assert.equal(url.searchParams.get('iss'), fx.issuer, 'RFC 9207');
  const { status, json, headers } = await redeem(code);
  assert.equal(status, 200);
  assert.equal(headers.get('cache-control'), 'no-store');
  assert.equal(json.token_type, 'Bearer');
  const { payload } = await verifyIdToken(json.id_token, { nonce });
  for (const c of ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'amr', 'azp', 'at_hash', 'sid']) assert.ok(payload[c] !== undefined, c);
  assert.ok(payload.exp > payload.iat);
});

test('oidcc-response-type-missing', async () => {
  const end = await new Browser().walk(authorizeUrl({ response_type: undefined }));
  assert.ok(['invalid_request', 'unsupported_response_type'].includes(end.url.searchParams.get('error')));
});

test('oidcc-idtoken-signature', async () => {
  const { code } = await codeFor();
  const { json } = await redeem(code);
  const { header } = await verifyIdToken(json.id_token);
  assert.equal(header.alg, 'RS256');
  assert.ok(header.kid);
});

test('oidcc-idtoken-unsigned', async () => {
  const { code } = await codeFor();
  const { json } = await redeem(code);
  const header = JSON.parse(Buffer.from(json.id_token.split('.')[0], 'base64url'));
  assert.notEqual(header.alg, 'none', 'unsigned ID tokens are never issued');
  assert.ok(!discovery.id_token_signing_alg_values_supported.includes('none'));
});

for (const how of ['get', 'post-header', 'post-body']) {
  test(`oidcc-userinfo-${how}`, async () => {
    const { code } = await codeFor({ scope: 'openid email' });
    const { json } = await redeem(code);
    const { payload } = await verifyIdToken(json.id_token);
    const ui = await userinfo(json.access_token, how);
    assert.equal(ui.status, 200);
    assert.equal(ui.json.sub, payload.sub);
    assert.equal(ui.json.email, fx.user.email);
  });
}

test('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
  const { code } = await codeFor({ nonce: undefined });
  const { json } = await redeem(code);
  const { payload } = await verifyIdToken(json.id_token);
  assert.equal(payload.nonce, undefined);
});

const scopeClaims = {
  profile: ['name', 'given_name', 'family_name', 'birthdate'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: [],
};
for (const scope of [...Object.keys(scopeClaims), 'all']) {
  test(`oidcc-scope-${scope}`, async () => {
    const scopes = scope === 'all' ? Object.keys(scopeClaims) : [scope];
    const { code } = await codeFor({ scope: `openid ${scopes.join(' ')}` });
    const { json } = await redeem(code);
    assert.deepEqual(json.scope.split(' ').sort(), ['openid', ...scopes].sort());
    const ui = await userinfo(json.access_token);
    for (const s of scopes) for (const c of scopeClaims[s]) assert.ok(ui.json[c] !== undefined, `${s} releases ${c}`);
    if (!scopes.includes('email')) assert.equal(ui.json.email, undefined);
  });
}

test('oidcc-alternate-happy-flow', async () => {
  // A second authorization in the same browser session, after a first one.
  const first = await codeFor();
  const end = await first.browser.walk(authorizeUrl({ scope: 'openid profile' }));
  const { status } = await redeem(end.url.searchParams.get('code'));
  assert.equal(status, 200);
});

for (const display of ['page', 'popup']) {
  test(`oidcc-display-${display}`, async () => {
    const { code } = await codeFor({ display });
    assert.equal((await redeem(code)).status, 200);
  });
}

test('oidcc-prompt-login', async () => {
  const first = await codeFor();
  const t1 = decodeJwt((await redeem(first.code)).json.id_token);
  await sleep(1100);
  const end = await first.browser.walk(authorizeUrl({ prompt: 'login' }), { login: fx.user });
  assert.deepEqual(first.browser.seen.filter((s) => s === 'login').length, 2, 'login page shown again');
  const t2 = decodeJwt((await redeem(end.url.searchParams.get('code'))).json.id_token);
  assert.ok(t2.auth_time > t1.auth_time);
});

test('oidcc-prompt-none-not-logged-in', async () => {
  const end = await new Browser().walk(authorizeUrl({ prompt: 'none', state: 'pn' }));
  assert.equal(end.url.searchParams.get('error'), 'login_required');
  assert.equal(end.url.searchParams.get('state'), 'pn');
});

test('oidcc-prompt-none-logged-in', async () => {
  const { browser } = await codeFor();
  const end = await browser.walk(authorizeUrl({ prompt: 'none' }));
  const { status, json } = await redeem(end.url.searchParams.get('code'));
  assert.equal(status, 200);
  assert.ok(json.id_token);
});

test('oidcc-max-age-1', async () => {
  const first = await codeFor();
  const t1 = decodeJwt((await redeem(first.code)).json.id_token);
  await sleep(2100);
  const end = await first.browser.walk(authorizeUrl({ max_age: '1' }), { login: fx.user });
  assert.equal(first.browser.seen.filter((s) => s === 'login').length, 2, 're-authentication');
  const t2 = decodeJwt((await redeem(end.url.searchParams.get('code'))).json.id_token);
  assert.ok(t2.auth_time >= t1.auth_time + 2);
});

test('oidcc-max-age-10000', async () => {
  const first = await codeFor();
  const t1 = decodeJwt((await redeem(first.code)).json.id_token);
  const end = await first.browser.walk(authorizeUrl({ max_age: '10000' }));
  const t2 = decodeJwt((await redeem(end.url.searchParams.get('code'))).json.id_token);
  assert.equal(t2.auth_time, t1.auth_time);
});

test('oidcc-ensure-request-with-unknown-parameter-succeeds', async () => {
  const { code } = await codeFor({ extra: 'foobar' });
  assert.equal((await redeem(code)).status, 200);
});

test('oidcc-id-token-hint', async () => {
  const first = await codeFor();
  const hint = (await redeem(first.code)).json.id_token;
  const end = await first.browser.walk(authorizeUrl({ prompt: 'none', id_token_hint: hint }));
  const t2 = decodeJwt((await redeem(end.url.searchParams.get('code'))).json.id_token);
  assert.equal(t2.sub, decodeJwt(hint).sub);
});

test('oidcc-login-hint', async () => {
  const end = await new Browser().walk(authorizeUrl({ login_hint: fx.user.email }));
  assert.equal(end.path, '/login');
  assert.match(end.body, new RegExp(`value="${fx.user.email}"`));
});

test('oidcc-ui-locales', async () => {
  const end = await new Browser().walk(authorizeUrl({ ui_locales: 'en' }));
  assert.match(end.body, /<html lang="en">/);
});

test('oidcc-claims-locales', async () => {
  const { code } = await codeFor({ claims_locales: 'de', scope: 'openid profile' });
  assert.equal((await redeem(code)).status, 200);
});

test('oidcc-ensure-request-with-acr-values-succeeds', async () => {
  const { code } = await codeFor({ acr_values: 'urn:servicekonto:acr:plus urn:servicekonto:acr:basic' });
  const { payload } = await verifyIdToken((await redeem(code)).json.id_token);
  assert.ok(discovery.acr_values_supported.includes(payload.acr));
});

test('oidcc-codereuse', async () => {
  const { code } = await codeFor({ scope: 'openid email' });
  const first = await redeem(code);
  assert.equal(first.status, 200);
  const second = await redeem(code);
  assert.equal(second.status, 400);
  assert.equal(second.json.error, 'invalid_grant');
  assert.equal((await userinfo(first.json.access_token)).status, 401, 'tokens of the first redemption are revoked');
});

test('oidcc-ensure-registered-redirect-uri', async () => {
  const res = await fetch(authorizeUrl({ redirect_uri: 'https://attacker.example/cb' }), { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  assert.match(res.headers.get('content-type'), /^text\/html/);
});

test('oidcc-ensure-post-request-succeeds', async () => {
  const browser = new Browser();
  await codeFor({}, { browser });
  const res = await browser.post(discovery.authorization_endpoint, {
    client_id: fx.basic.client_id, redirect_uri: fx.rp, response_type: 'code', scope: 'openid', state: 'post',
  });
  assert.equal(res.status, 303);
  const end = await browser.walk(new URL(res.headers.get('location'), fx.issuer).href);
  assert.equal(end.url.searchParams.get('state'), 'post');
  assert.equal((await redeem(end.url.searchParams.get('code'))).status, 200);
});

test('oidcc-server-client-secret-post', async () => {
  const { code } = await codeFor({}, { client: fx.post });
  const { status, json } = await redeem(code, fx.post, 'post');
  assert.equal(status, 200);
  await verifyIdToken(json.id_token, { client: fx.post });
});

test('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', async () => {
  assert.equal(discovery.request_uri_parameter_supported, false);
  const end = await new Browser().walk(authorizeUrl({ request_uri: 'https://rp.example/request.jwt' }));
  assert.equal(end.url.searchParams.get('error'), 'request_uri_not_supported');
});

test('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async () => {
  assert.equal(discovery.request_parameter_supported, false);
  const request = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ client_id: fx.basic.client_id })).toString('base64url')}.`;
  const end = await new Browser().walk(authorizeUrl({ request }));
  assert.equal(end.url.searchParams.get('error'), 'request_not_supported');
});

test('oidcc-ensure-request-object-with-redirect-uri', async () => {
  const request = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ redirect_uri: fx.rp2 })).toString('base64url')}.`;
  const end = await new Browser().walk(authorizeUrl({ request }));
  assert.equal(end.url.origin + end.url.pathname, fx.rp, 'answers at the redirect_uri of the plain request');
  assert.equal(end.url.searchParams.get('error'), 'request_not_supported');
});

test('oidcc-claims-essential', async () => {
  const { code } = await codeFor({ claims: JSON.stringify({ userinfo: { name: { essential: true } } }) });
  const ui = await userinfo((await redeem(code)).json.access_token);
  assert.equal(ui.json.name, 'Erika Mustermann');
});

test('oidcc-refresh-token', async () => {
  const { code } = await codeFor({ scope: 'openid offline_access' });
  const { json } = await redeem(code);
  const first = decodeJwt(json.id_token);
  const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: json.refresh_token });
  assert.equal(refreshed.status, 200);
  const second = (await verifyIdToken(refreshed.json.id_token)).payload;
  for (const c of ['iss', 'sub', 'aud', 'auth_time', 'acr']) assert.deepEqual(second[c], first[c], c);
  const stolen = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token }, fx.second);
  assert.equal(stolen.json.error, 'invalid_grant', "another client's refresh token");
});

test('oidcc-ensure-request-with-valid-pkce-succeeds', async () => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
  const { code } = await codeFor({ code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  assert.equal((await redeem(code, fx.basic, 'basic', { code_verifier: verifier })).status, 200);
});

test('pkce-required-for-public-clients-and-plain-refused', async () => {
  const end = await new Browser().walk(authorizeUrl({}, fx.public));
  assert.equal(end.url.searchParams.get('error'), 'invalid_request');
  const plain = await new Browser().walk(authorizeUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }));
  assert.equal(plain.url.searchParams.get('error'), 'invalid_request');
  assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
});
