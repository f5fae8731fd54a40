// Interop with an OpenID Provider we did not write: Land C is the npm package `oidc-provider`
// (fixtures/land-c.mjs), configured in Servicekonto as `kind = "land"` with an `acr_map`. A
// citizen of Land C logs in to a service here "Mit anderem Servicekonto" (R-FED-1, -3); a
// lower level than the service demands, a declined consent and a forged `iss` are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fx, Browser, formValue, authorizeUrl, redeem, verifyIdToken, userinfo } from '../harness.mjs';

// Starts a login at a service, picks Land C from the list; returns our browser and Land C's URL.
async function toLandC(client) {
  const ours = new Browser();
  const login = await ours.walk(authorizeUrl({ scope: 'openid profile email address', nonce: 'n-c' }, client));
  assert.equal(login.path, '/login');
  assert.match(login.body, /Mit anderem Servicekonto anmelden/);
  const txn = formValue(login.body, 'txn');
  const list = await ours.get(`${fx.issuer}/login/land?txn=${txn}`);
  const html = await list.text();
  assert.match(html, /Servicekonto Land C/);
  assert.match(html, /Servicekonto Land Z[\s\S]*nicht erreichbar/, 'a Land that is down is shown unavailable');
  const start = await ours.post(`${fx.issuer}/upstream/land-c/start`, { csrf: formValue(html, 'csrf'), purpose: 'federate', txn });
  assert.equal(start.status, 303);
  const at = new URL(start.headers.get('location'));
  assert.equal(at.origin, fx.landC.issuer);
  assert.equal(at.searchParams.get('prompt'), 'login', 'every interoperable login authenticates anew');
  return { ours, at: at.href, txn };
}

// Plays the citizen at Land C: logs in as `who` and agrees (or declines); returns the URL of our
// callback that Land C sends the browser back to.
async function atLandC(url, who, decision = 'confirm') {
  const there = new Browser();
  let next = url;
  for (let i = 0; i < 15; i++) {
    if (next.startsWith(fx.issuer)) return next;
    const res = await there.get(next);
    if (res.status >= 300 && res.status < 400) { next = new URL(res.headers.get('location'), next).href; continue; }
    const body = await res.text();
    assert.equal(res.status, 200, body);
    const uid = new URL(next).pathname.split('/')[2];
    const r = body.includes('name="password"')
      ? await there.post(`${fx.landC.issuer}/interaction/${uid}/login`, { login: who, password: fx.landC.persons[who].password })
      : await there.post(`${fx.landC.issuer}/interaction/${uid}/${decision}`, {});
    next = new URL(r.headers.get('location'), next).href;
  }
  throw new Error('Land C did not send the browser back');
}

test('R-FED-1/3: a citizen of Land C (oidc-provider) uses a service here; level mapped, amr fed, consent with the values', async () => {
  const { ours, at } = await toLandC(fx.interop);
  const back = await atLandC(at, 'lena');
  const consent = await ours.walk(back, { consent: 'stop' });
  assert.equal(consent.path, '/consent');
  assert.match(consent.body, /Servicekonto Land C/);
  assert.match(consent.body, /Lena/);
  assert.match(consent.body, /lena@land-c\.example/);
  assert.match(consent.body, /Marktplatz 1/);
  const end = await ours.post(`${fx.issuer}/consent`, { csrf: formValue(consent.body, 'csrf'), txn: formValue(consent.body, 'txn'), decision: 'allow' });
  const done = (await ours.walk(new URL(end.headers.get('location'), fx.issuer).href, {})).url;
  assert.equal(done.searchParams.get('iss'), fx.issuer);
  const { status, json } = await redeem(done.searchParams.get('code'), fx.interop);
  assert.equal(status, 200);
  assert.equal(json.refresh_token, undefined);
  const { payload } = await verifyIdToken(json.id_token, { client: fx.interop, nonce: 'n-c' });
  assert.equal(payload.acr, 'urn:servicekonto:acr:plus', "Land C's plus level, mapped through acr_map");
  assert.deepEqual(payload.amr, ['fed']);
  const info = await userinfo(json.access_token);
  assert.equal(info.json.given_name, 'Lena');
  assert.equal(info.json.email, 'lena@land-c.example');
  assert.equal(info.json.address.locality, 'Potsdam');
  assert.equal(info.json.sub, payload.sub);
});

test('R-FED-3: Land C asserts a lower level than the service demands: refused, the service learns why', async () => {
  const { ours, at } = await toLandC(fx.interopPlus);
  const back = await atLandC(at, 'jonas');
  const refused = await ours.walk(back, {});
  assert.equal(refused.status, 403);
  assert.match(refused.body, /Vertrauensniveau/);
  const r = await ours.post(`${fx.issuer}/login/land/abort`, { csrf: formValue(refused.body, 'csrf'), txn: formValue(refused.body, 'txn'), reason: 'level' });
  const to = new URL(r.headers.get('location'));
  assert.equal(to.searchParams.get('error'), 'unmet_authentication_requirements');
  assert.equal(to.searchParams.get('code'), null);
});

test('R-FED-1: the citizen declines at Land C: access_denied to the service', async () => {
  const { ours, at } = await toLandC(fx.interop);
  const back = await atLandC(at, 'lena', 'abort');
  const page = await ours.walk(back, {});
  assert.match(page.body, /abgelehnt/);
  const r = await ours.post(`${fx.issuer}/login/land/abort`, { csrf: formValue(page.body, 'csrf'), txn: formValue(page.body, 'txn'), reason: 'cancel' });
  assert.equal(new URL(r.headers.get('location')).searchParams.get('error'), 'access_denied');
});

test('RFC 9207: an answer naming another issuer than Land C is refused (mix-up)', async () => {
  const { ours, at } = await toLandC(fx.interop);
  const back = new URL(await atLandC(at, 'lena'));
  assert.equal(back.searchParams.get('iss'), fx.landC.issuer);
  back.searchParams.set('iss', fx.issuer);
  const res = await ours.get(back.href);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /nicht von dem Anmeldedienst/);
});
