// Mirrors of oidcc-rp-initiated-logout-certification-test-plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fx, discovery, Browser, authorizeUrl, redeem, codeFor, formValue } from '../harness.mjs';

async function loggedIn() {
  const { code, browser } = await codeFor();
  const { json } = await redeem(code);
  return { browser, idToken: json.id_token };
}

function logoutUrl(params) {
  const u = new URL(discovery.end_session_endpoint);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.href;
}

async function stillLoggedIn(browser) {
  const end = await browser.walk(authorizeUrl({ prompt: 'none' }));
  return end.url.searchParams.has('code');
}

test('oidcc-rp-initiated-logout', async () => {
  const { browser, idToken } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: fx.loggedOut, state: 'bye' }));
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), `${fx.loggedOut}?state=bye`);
  assert.equal(await stillLoggedIn(browser), false);
});

test('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri', async () => {
  const { browser, idToken } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: 'https://attacker.example/' }));
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
});

test('oidcc-rp-initiated-logout-modified-id-token-hint', async () => {
  const { browser, idToken } = await loggedIn();
  const [h, p, s] = idToken.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  payload.sub = 'someone-else';
  const modified = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  const res = await browser.get(logoutUrl({ id_token_hint: modified, post_logout_redirect_uri: fx.loggedOut }));
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  assert.equal(await stillLoggedIn(browser), true);
});

test('oidcc-rp-initiated-logout-bad-id-token-hint', async () => {
  const { browser } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln', post_logout_redirect_uri: fx.loggedOut }));
  assert.equal(res.status, 400);
});

test('oidcc-rp-initiated-logout-no-id-token-hint', async () => {
  const { browser } = await loggedIn();
  const res = await browser.get(logoutUrl({ client_id: fx.basic.client_id, post_logout_redirect_uri: fx.loggedOut, state: 'q' }));
  assert.equal(res.status, 200, 'the user is asked to confirm');
  const page = await res.text();
  const confirm = await browser.post(discovery.end_session_endpoint, {
    csrf: formValue(page, 'csrf'), confirm: 'yes', client_id: formValue(page, 'client_id'),
    post_logout_redirect_uri: formValue(page, 'post_logout_redirect_uri'), state: formValue(page, 'state'),
  });
  assert.equal(confirm.status, 303);
  assert.equal(confirm.headers.get('location'), `${fx.loggedOut}?state=q`);
  assert.equal(await stillLoggedIn(browser), false);
});

test('oidcc-rp-initiated-logout-no-params', async () => {
  const { browser } = await loggedIn();
  const res = await browser.get(discovery.end_session_endpoint);
  assert.equal(res.status, 200);
  const page = await res.text();
  const confirm = await browser.post(discovery.end_session_endpoint, { csrf: formValue(page, 'csrf'), confirm: 'yes' });
  assert.equal(confirm.status, 200);
  assert.equal(await stillLoggedIn(browser), false);
});

test('oidcc-rp-initiated-logout-no-post-logout-redirect-uri', async () => {
  const { browser, idToken } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: idToken }));
  assert.equal(res.status, 200);
  assert.match(await res.text(), /abgemeldet/);
  assert.equal(await stillLoggedIn(browser), false);
});

test('oidcc-rp-initiated-logout-no-state', async () => {
  const { browser, idToken } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: fx.loggedOut }));
  assert.equal(res.headers.get('location'), fx.loggedOut);
});

test('oidcc-rp-initiated-logout-only-state', async () => {
  const { browser, idToken } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: idToken, state: 'only' }));
  assert.equal(res.status, 200, 'no redirect without a post_logout_redirect_uri');
  assert.equal(await stillLoggedIn(browser), false);
});

test('oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri', async () => {
  const { browser, idToken } = await loggedIn();
  const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: `${fx.loggedOut}?foo=bar` }));
  assert.equal(res.status, 400);
  assert.equal(await stillLoggedIn(browser), true);
});

test('logout-of-another-browser-needs-no-session', async () => {
  const { idToken } = await loggedIn();
  const res = await new Browser().get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: fx.loggedOut, state: 'x' }));
  assert.equal(res.headers.get('location'), `${fx.loggedOut}?state=x`);
});
