// Logs the benchmark user in once through the real pages and consents, so the load run can
// reuse the session cookie; prints the cookie and a user access token as JSON. The seventh
// argument is the scope (default `openid profile email`).
const [issuer, clientId, secret, redirectUri, email, password, scope = 'openid profile email'] = process.argv.slice(2);
const jar = new Map();
const keep = (res) => { for (const c of res.headers.getSetCookie()) { const [p] = c.split(';'); const i = p.indexOf('='); jar.set(p.slice(0, i), p.slice(i + 1)); } return res; };
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const get = async (u) => keep(await fetch(new URL(u, issuer), { redirect: 'manual', headers: { cookie: cookie() } }));
const post = async (u, form) => keep(await fetch(new URL(u, issuer), { method: 'POST', redirect: 'manual', headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) }));
const value = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];

const authorize = `/authorize?client_id=${encodeURIComponent(clientId)}&redirect_uri=${encodeURIComponent(redirectUri)}&response_type=code&scope=${encodeURIComponent(scope)}`;
let next = authorize;
let code;
for (let i = 0; i < 20 && !code; i++) {
  const res = await (next.startsWith('/') ? get(next) : null);
  if (res.status === 303) {
    const loc = res.headers.get('location');
    if (loc.startsWith(redirectUri)) { code = new URL(loc).searchParams.get('code'); break; }
    next = loc;
    continue;
  }
  const html = await res.text();
  const path = new URL(next, issuer).pathname;
  const r = path === '/login'
    ? await post('/login', { csrf: value(html, 'csrf'), txn: value(html, 'txn'), email, password })
    : await post('/consent', { csrf: value(html, 'csrf'), txn: value(html, 'txn'), decision: 'allow' });
  next = r.headers.get('location');
}
const basic = Buffer.from(`${clientId}:${secret}`).toString('base64');
const tokens = await (await fetch(new URL('/token', issuer), { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }) })).json();
console.log(JSON.stringify({ cookie: cookie(), authorize, access_token: tokens.access_token }));
