// What every check needs: the fixture written by run.mjs, a cookie-keeping browser that walks
// through the login and consent pages, and token/ID-token helpers built on `jose`.
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

export const fx = JSON.parse(readFileSync(process.env.SK_FIXTURE, 'utf8'));
export const discovery = await (await fetch(`${fx.issuer}/.well-known/openid-configuration`)).json();
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

export function formValue(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  return m ? m[1].replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&quot;', '"') : undefined;
}

export class Browser {
  jar = new Map();
  seen = [];

  headers(extra = {}) {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return cookie ? { ...extra, cookie } : extra;
  }

  remember(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const [k, v] = [pair.slice(0, i), pair.slice(i + 1)];
      if (/max-age=0/i.test(c)) this.jar.delete(k); else this.jar.set(k, v);
    }
    return res;
  }

  async get(url) {
    return this.remember(await fetch(url, { redirect: 'manual', headers: this.headers() }));
  }

  async post(url, form) {
    return this.remember(await fetch(url, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(form),
      headers: this.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
    }));
  }

  // Follows redirects from `url` until the browser leaves for a client ({ url }) or stops at a
  // page of ours ({ status, body }); logs in with `login` and answers consent with `consent`
  // (`allow`, `deny`, or `stop` to stop at the consent page).
  async walk(url, { login, consent = 'allow' } = {}) {
    let next = url;
    for (let i = 0; i < 20; i++) {
      if (!next.startsWith(fx.issuer)) return { url: new URL(next) };
      const res = await this.get(next);
      if (res.status >= 300 && res.status < 400) { next = new URL(res.headers.get('location'), fx.issuer).href; continue; }
      const body = await res.text();
      const path = new URL(next).pathname;
      if (path === '/login' && res.status === 200 && login) {
        this.seen.push('login');
        const r = await this.post(`${fx.issuer}/login`, { csrf: formValue(body, 'csrf'), txn: formValue(body, 'txn'), email: login.email, password: login.password });
        if (r.status !== 303) throw new Error(`login failed with ${r.status}`);
        next = new URL(r.headers.get('location'), fx.issuer).href;
      } else if (path === '/consent' && res.status === 200 && consent !== 'stop') {
        this.seen.push('consent');
        const r = await this.post(`${fx.issuer}/consent`, { csrf: formValue(body, 'csrf'), txn: formValue(body, 'txn'), decision: consent });
        next = new URL(r.headers.get('location'), fx.issuer).href;
      } else {
        return { status: res.status, body, path };
      }
    }
    throw new Error('too many redirects');
  }
}

export function authorizeUrl(params, client = fx.basic) {
  const u = new URL(discovery.authorization_endpoint);
  const all = { client_id: client.client_id, redirect_uri: fx.rp, response_type: 'code', scope: 'openid', state: `st-${Math.random()}`, ...params };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

export async function tokenRequest(form, client = fx.basic, method = 'basic') {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (method === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
  } else if (method === 'post') {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret);
  } else {
    body.set('client_id', client.client_id);
  }
  const res = await fetch(discovery.token_endpoint, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

export async function redeem(code, client = fx.basic, method = 'basic', extra = {}) {
  return tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: fx.rp, ...extra }, client, method);
}

export async function verifyIdToken(idToken, { client = fx.basic, nonce } = {}) {
  const header = decodeProtectedHeader(idToken);
  const { payload } = await jwtVerify(idToken, jwks, { issuer: fx.issuer, audience: client.client_id, algorithms: ['RS256'] });
  if (nonce !== undefined && payload.nonce !== nonce) throw new Error('nonce mismatch');
  return { header, payload };
}

// Logs the user in through a whole authorization and returns the code and the browser.
export async function codeFor(params = {}, { browser = new Browser(), user = fx.user, client = fx.basic } = {}) {
  const end = await browser.walk(authorizeUrl(params, client), { login: user });
  if (!end.url) throw new Error(`no redirect to the client: ${end.status}`);
  const code = end.url.searchParams.get('code');
  if (!code) throw new Error(`no code: ${end.url}`);
  return { code, browser, url: end.url };
}

export async function userinfo(accessToken, how = 'get') {
  const init = how === 'get' ? { headers: { authorization: `Bearer ${accessToken}` } }
    : how === 'post-header' ? { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } }
      : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: accessToken }) };
  const res = await fetch(discovery.userinfo_endpoint, init);
  return { status: res.status, headers: res.headers, json: res.status === 200 ? await res.json() : null };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The code an authenticator app shows now for an otpauth URI: RFC 6238 (HMAC-SHA-1, 6 digits,
 * 30 s), written here from the RFC, independent of the server's implementation. */
export function totpCode(otpauthUri, at = Date.now()) {
  const secret = new URL(otpauthUri).searchParams.get('secret');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const seed = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', seed).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}
