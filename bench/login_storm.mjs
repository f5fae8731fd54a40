// The login storm (R-SEC-1): full password logins through the real pages, many at once, against
// a server started by bench/login_storm.sh. One flow is what a citizen's browser and the online
// service do: GET /authorize → login page → POST /login → back to /authorize → code → POST /token.
// For each level of concurrency it reports the flows that worked and failed, the server's CPU per
// flow (from /proc/PID/task/*/schedstat) and its peak RSS (VmHWM, reset before each stage through
// /proc/PID/clear_refs); then a burst of simultaneous login POSTs. Prints one JSON object.
//   node bench/login_storm.mjs ISSUER CLIENT_ID SECRET REDIRECT_URI ACCOUNTS PID [LEVELS] [BURST]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const [issuer, clientId, secret, redirectUri, accountsArg, pidArg, levelsArg = '1,8,32,64', burstArg = '500'] = process.argv.slice(2);
const accounts = Number(accountsArg);
const pid = Number(pidArg);
const levels = levelsArg.split(',').map(Number);
const burst = Number(burstArg);
const password = 'Bench1234!';
const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');

/** CPU ms per kind of server thread (argon2-*, tokio-rt-worker, sqlx-sqlite-worker, …), from schedstat. */
const cpuByThread = () => {
  const by = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/-\d+$/, '');
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      by[name] = (by[name] ?? 0) + ns / 1e6;
    } catch { /* a thread that ended meanwhile */ }
  }
  return by;
};
/** The server's CPU time in ms, to the nanosecond: the sum of its threads' schedstat (time on a CPU). */
const cpuMs = () => Object.values(cpuByThread()).reduce((a, b) => a + b, 0);
const peakMb = () => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]) / 1024;
const resetPeak = () => writeFileSync(`/proc/${pid}/clear_refs`, '5');

class Jar {
  constructor() { this.c = new Map(); }
  keep(res) { for (const c of res.headers.getSetCookie()) { const [p] = c.split(';'); const i = p.indexOf('='); this.c.set(p.slice(0, i), p.slice(i + 1)); } return res; }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
}
const value = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
const get = async (jar, path) => jar.keep(await fetch(new URL(path, issuer), { redirect: 'manual', headers: { cookie: jar.header() } }));
const post = async (jar, path, form) => jar.keep(await fetch(new URL(path, issuer), {
  method: 'POST', redirect: 'manual',
  headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(form),
}));
const authorizePath = () => `/authorize?client_id=${encodeURIComponent(clientId)}&redirect_uri=${encodeURIComponent(redirectUri)}&response_type=code&scope=openid%20profile&state=s${Math.random().toString(36).slice(2)}`;

/** Up to the login form: a fresh browser with its transaction, CSRF token and cookies. */
async function toLoginForm() {
  const jar = new Jar();
  const start = await get(jar, authorizePath());
  if (start.status !== 303) throw new Error(`authorize: ${start.status}`);
  const loginPath = start.headers.get('location');
  const page = await (await get(jar, loginPath)).text();
  return { jar, csrf: value(page, 'csrf'), txn: value(page, 'txn') };
}

/** From the login POST's answer to tokens: consent when asked, then the code at /token. */
async function finish(jar, res) {
  for (let i = 0; i < 6; i++) {
    if (res.status !== 303) throw new Error(`status ${res.status} at step ${i}`);
    const loc = res.headers.get('location');
    if (loc.startsWith(redirectUri)) {
      const code = new URL(loc).searchParams.get('code');
      if (!code) throw new Error(`no code: ${loc}`);
      const tok = await fetch(new URL('/token', issuer), {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }),
      });
      const body = await tok.json();
      if (tok.status !== 200 || !body.id_token) throw new Error(`token: ${tok.status}`);
      return;
    }
    const next = await get(jar, loc);
    if (new URL(loc, issuer).pathname === '/consent') {
      const html = await next.text();
      res = await post(jar, '/consent', { csrf: value(html, 'csrf'), txn: value(html, 'txn'), decision: 'allow' });
    } else {
      res = next;
    }
  }
  throw new Error('too many redirects');
}

async function flow(n) {
  const { jar, csrf, txn } = await toLoginForm();
  const res = await post(jar, '/login', { csrf, txn, email: `bench${n % accounts}@example.de`, password });
  await finish(jar, res);
}

/** `total` flows, `concurrency` at a time. */
async function stage(concurrency, total) {
  let next = 0, ok = 0;
  const errors = {};
  resetPeak();
  const cpu0 = cpuMs(), threads0 = cpuByThread(), t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const n = next++;
      try { await flow(n); ok++; } catch (e) { errors[e.message] = (errors[e.message] ?? 0) + 1; }
    }
  }));
  const cpu = cpuMs() - cpu0, seconds = (Date.now() - t0) / 1000;
  const threads = Object.fromEntries(Object.entries(cpuByThread()).map(([k, v]) => [k, (v - (threads0[k] ?? 0)) / Math.max(ok, 1)]));
  return { concurrency, flows: total, ok, failed: total - ok, errors, seconds, flows_per_s: ok / seconds, cpu_ms_per_flow: cpu / Math.max(ok, 1), cpu_ms_per_flow_by_thread: threads, peak_rss_mb: peakMb() };
}

// Every account consents once, so the measured flows are logins, not first visits.
for (let n = 0; n < accounts; n += 8) await Promise.all(Array.from({ length: Math.min(8, accounts - n) }, (_, k) => flow(n + k)));

const result = { stages: [] };
for (const c of levels) result.stages.push(await stage(c, Math.max(c * 4, 24)));

// The burst: `burst` browsers stand at the login form, then all send it at the same moment.
const forms = [];
for (let i = 0; i < burst; i += 50) forms.push(...await Promise.all(Array.from({ length: Math.min(50, burst - i) }, () => toLoginForm())));
resetPeak();
const statuses = {};
const t0 = Date.now();
const answers = await Promise.all(forms.map(({ jar, csrf, txn }, i) =>
  post(jar, '/login', { csrf, txn, email: `bench${i % accounts}@example.de`, password })
    .then(async (res) => { await res.arrayBuffer(); return { status: res.status, retry: res.headers.get('retry-after') }; })
    .catch((e) => ({ status: `error ${e.cause?.code ?? e.message}` }))));
for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
const retryAfter = [...new Set(answers.filter((a) => a.status === 503).map((a) => a.retry))];
result.burst = { posts: burst, statuses, retry_after: retryAfter, seconds: (Date.now() - t0) / 1000, peak_rss_mb: peakMb() };
// Still standing, and a login works again.
const health = await fetch(new URL('/healthz', issuer));
let after = 'ok';
try { await flow(0); } catch (e) { after = e.message; }
result.after_burst = { healthz: health.status, login: after };
console.log(JSON.stringify(result));
