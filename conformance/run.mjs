// Starts a real Servicekonto (fresh SQLite database and keys in a temporary folder), registers
// the conformance clients and accounts through the operator CLI, runs every check in tests/
// with Node's test runner, and stops the server. Exit code: the test runner's.
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { startLandC, LOA, persons } from './fixtures/land-c.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.SERVICEKONTO_BIN;
if (!bin) throw new Error('SERVICEKONTO_BIN must name the servicekonto binary');

const freePort = () => new Promise((resolve, reject) => {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  srv.on('error', reject);
});

const dir = mkdtempSync(join(tmpdir(), 'sk-conformance-'));
const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
// The eID and ELSTER simulators as the provider's eID service and ELSTER (processes of their
// own, development only). Each binds a free port itself and names its issuer on its first line
// of output.
const simSecret = `conformance-sim-${process.pid}-0123456789abcdef`;
const startSim = async (kind) => {
  const child = spawn(bin, ['sim', kind, '--bind', '127.0.0.1:0', '--client-id', 'servicekonto', '--client-secret', simSecret,
    '--redirect-uri', `${issuer}/upstream/${kind}/callback`], { env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill('SIGTERM'));
  const started = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl).trim());
    });
    child.on('exit', () => reject(new Error(`the ${kind} simulator exited during start-up`)));
  });
  return [child, started];
};
const [sim, simIssuer] = await startSim('eid');
const [elsterSim, elsterIssuer] = await startSim('elster');
// Land C: another Land's Servicekonto played by the npm package oidc-provider (in this process),
// with Servicekonto registered there as a client.
const landCSecret = `conformance-land-c-${process.pid}-0123456789abcdef`;
const landC = await startLandC({ clientId: 'servicekonto-land-a', clientSecret: landCSecret, redirectUris: [`${issuer}/upstream/land-c/callback`] });
const configFile = join(dir, 'servicekonto.toml');
writeFileSync(configFile, `[[upstream]]
id = "eid"
kind = "eid"
display_name = "Online-Ausweis"
issuer = "${simIssuer}"
client_id = "servicekonto"
client_secret = "${simSecret}"

[[upstream]]
id = "elster"
kind = "elster"
display_name = "ELSTER"
issuer = "${elsterIssuer}"
client_id = "servicekonto"
client_secret = "${simSecret}"

[[upstream]]
id = "land-c"
kind = "land"
display_name = "Servicekonto Land C"
logo_text = "LC"
issuer = "${landC.issuer}"
client_id = "servicekonto-land-a"
client_secret = "${landCSecret}"
scopes = ["profile", "email", "address"]
acr_map = { "${LOA.basis}" = "basic", "${LOA.plus}" = "plus" }

# A Land that is down: listed as unavailable, never an error page.
[[upstream]]
id = "land-z"
kind = "land"
display_name = "Servicekonto Land Z"
issuer = "http://127.0.0.1:9"
client_id = "servicekonto-land-a"
client_secret = "${landCSecret}"
`);
const env = {
  ...process.env,
  SERVICEKONTO_ISSUER: issuer,
  SERVICEKONTO_BIND: `127.0.0.1:${port}`,
  // Both backends: SQLite by default; PostgreSQL + Redis when the test script names them.
  SERVICEKONTO_DATABASE_URL: process.env.SK_CONFORMANCE_DATABASE_URL ?? `sqlite://${dir}/conformance.db`,
  SERVICEKONTO_REDIS_URL: process.env.SK_CONFORMANCE_REDIS_URL ?? '',
  SERVICEKONTO_REDIS_PREFIX: process.env.SK_CONFORMANCE_REDIS_PREFIX ?? `sk-conformance-${process.pid}:`,
  SERVICEKONTO_KEYS_DIR: `${dir}/keys`,
  SERVICEKONTO_SECRETS_FILE: `${dir}/secrets.toml`,
  SERVICEKONTO_OUTBOX_DIR: `${dir}/outbox`,
  SERVICEKONTO_CONFIG: configFile,
  RUST_LOG: process.env.RUST_LOG ?? 'warn',
};
const cli = (...args) => JSON.parse(execFileSync(bin, [...args, '--json'], { env }).toString());

const rp = 'http://127.0.0.1:9/cb';
const rp2 = 'http://127.0.0.1:9/cb2';
const loggedOut = 'http://127.0.0.1:9/logged-out';
const common = ['--redirect-uri', rp, '--redirect-uri', rp2, '--post-logout-redirect-uri', loggedOut,
  '--grant-type', 'authorization_code', '--grant-type', 'refresh_token'];
cli('migrate');
// The back-channel logout endpoint of the backchannel checks' service (tests/oidcc-backchannel-*):
// bound here, before the client is registered, and held for the whole run; every logout token
// it receives is appended to a file the checks read.
const backchannelLog = join(dir, 'backchannel.jsonl');
writeFileSync(backchannelLog, '');
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    appendFileSync(backchannelLog, `${JSON.stringify({ contentType: req.headers['content-type'], body })}\n`);
    res.writeHead(200).end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const backchannelUri = `http://127.0.0.1:${receiver.address().port}/backchannel-logout`;
const fixture = {
  issuer,
  rp, rp2, loggedOut,
  basic: cli('client', 'add', '--name', 'Conformance RP (basic)', ...common, '--auth-method', 'client_secret_basic'),
  post: cli('client', 'add', '--name', 'Conformance RP (post)', ...common, '--auth-method', 'client_secret_post'),
  second: cli('client', 'add', '--name', 'Conformance RP (second)', ...common),
  public: cli('client', 'add', '--name', 'Conformance RP (public)', ...common, '--auth-method', 'none'),
  backchannel: cli('client', 'add', '--name', 'Conformance RP (back-channel logout)', ...common, '--backchannel-logout-uri', backchannelUri),
  backchannelLog,
  interop: cli('client', 'add', '--name', 'Conformance RP (interop)', ...common, '--allow-interop'),
  interopPlus: cli('client', 'add', '--name', 'Conformance RP (interop, Plus)', ...common, '--allow-interop', '--min-acr', 'plus'),
  landC: { issuer: landC.issuer, persons },
  partner: cli('client', 'add', '--name', 'Servicekonto Land B (partner)', ...common, '--federation-partner'),
  organisations: cli('client', 'add', '--name', 'Gewerbeanzeige', ...common, '--account-kind', 'organisation',
    '--requires-approval', '--role', 'sachbearbeitung', '--description', 'Ein Gewerbe anmelden, ummelden oder abmelden.',
    '--cost-note', '20 € je Anzeige'),
  outbox: `${dir}/outbox`,
  user: { email: 'conformance@example.de', password: 'Konformität1!' },
  other: { email: 'other@example.de', password: 'Konformität2!' },
};
cli('account', 'add', '--email', fixture.user.email, '--password', fixture.user.password, '--given-name', 'Erika',
  '--family-name', 'Mustermann', '--plus', '--birthdate', '1964-08-12', '--street', 'Heidestraße',
  '--house-number', '17', '--postal-code', '51147', '--city', 'Köln');
cli('account', 'add', '--email', fixture.other.email, '--password', fixture.other.password, '--given-name', 'Max',
  '--family-name', 'Muster');
// An organisation whose administrator uses an administration tool (a service for organisations
// like any other: subscribed, granted, administrators' switch on), for the API checks.
fixture.orgAdmin = { email: 'verwaltung@musterfirma.example', password: 'Verwaltung-2026!' };
const org = cli('org', 'add', '--name', 'Musterfirma GmbH', '--admin-email', fixture.orgAdmin.email, '--admin-password',
  fixture.orgAdmin.password, '--admin-given-name', 'Vera', '--admin-family-name', 'Verwaltung', '--admin-phone', '+49 221 9876');
Object.assign(fixture.orgAdmin, { org_id: org.org_id, user_id: org.user_id });
fixture.orgTool = cli('client', 'add', '--name', 'Verwaltungswerkzeug', ...common, '--account-kind', 'organisation');
cli('org', 'subscribe', '--org', org.org_id, '--client-id', fixture.orgTool.client_id);
cli('org', 'admins-use-services', '--org', org.org_id, 'true');
cli('org', 'grant', '--org', org.org_id, '--user', org.user_id, '--client-id', fixture.orgTool.client_id);
// A second organisation for the browser journey, apart from the one schemathesis changes at
// random: it uses the tool, and waits for the Leitstelle's release of the Gewerbeanzeige.
fixture.journeyOrg = { email: 'chefin@baeckerei-korn.example', password: 'Backstube-2026!' };
const korn = cli('org', 'add', '--name', 'Bäckerei Korn', '--admin-email', fixture.journeyOrg.email, '--admin-password',
  fixture.journeyOrg.password, '--admin-given-name', 'Käthe', '--admin-family-name', 'Korn', '--admin-phone', '+49 221 4711',
  '--trade-register', 'HRA 4711');
Object.assign(fixture.journeyOrg, { org_id: korn.org_id, user_id: korn.user_id });
cli('org', 'subscribe', '--org', korn.org_id, '--client-id', fixture.orgTool.client_id);
cli('org', 'admins-use-services', '--org', korn.org_id, 'true');
cli('org', 'grant', '--org', korn.org_id, '--user', korn.user_id, '--client-id', fixture.orgTool.client_id);
cli('org', 'subscribe', '--org', korn.org_id, '--client-id', fixture.organisations.client_id);
// An organisation that schemathesis deletes (DELETE /orgs/{org_id}, in a run of its own, last).
fixture.doomedOrg = { email: 'abriss@kurzlebig.example', password: 'Abriss-2026!' };
const doomed = cli('org', 'add', '--name', 'Kurzlebig KG', '--admin-email', fixture.doomedOrg.email, '--admin-password',
  fixture.doomedOrg.password, '--admin-given-name', 'Ada', '--admin-family-name', 'Abriss', '--admin-phone', '+49 221 0000');
Object.assign(fixture.doomedOrg, { org_id: doomed.org_id, user_id: doomed.user_id });
cli('org', 'subscribe', '--org', doomed.org_id, '--client-id', fixture.orgTool.client_id);
cli('org', 'admins-use-services', '--org', doomed.org_id, 'true');
cli('org', 'grant', '--org', doomed.org_id, '--user', doomed.user_id, '--client-id', fixture.orgTool.client_id);
fixture.staff = { username: 'clara', password: 'Schalter-2026!' };
fixture.staff.totp_uri = JSON.parse(execFileSync(bin, ['staff', 'add', '--role', 'kundenzentrum', '--username', fixture.staff.username,
  '--name', 'Clara Schalter', '--json'], { env: { ...env, SERVICEKONTO_STAFF_PASSWORD: fixture.staff.password } })).totp_uri;
fixture.leitstelle = { username: 'lea', password: 'Freigabe-2026!' };
fixture.leitstelle.totp_uri = JSON.parse(execFileSync(bin, ['staff', 'add', '--role', 'leitstelle', '--username', fixture.leitstelle.username,
  '--name', 'Lea Leitstelle', '--json'], { env: { ...env, SERVICEKONTO_STAFF_PASSWORD: fixture.leitstelle.password } })).totp_uri;
fixture.sim = simIssuer;
const fixtureFile = join(dir, 'fixture.json');
writeFileSync(fixtureFile, JSON.stringify(fixture, null, 2));

const server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
let exited = false;
server.on('exit', () => { exited = true; });
for (let i = 0; ; i++) {
  if (exited) throw new Error('servicekonto exited during start-up');
  try { if ((await fetch(`${issuer}/.well-known/openid-configuration`)).ok) break; } catch { /* not yet */ }
  if (i > 300) throw new Error('servicekonto did not start within 30 s');
  await new Promise((r) => setTimeout(r, 100));
}

const files = readdirSync(join(here, 'tests')).filter((f) => f.endsWith('.test.mjs'))
  // SK_ONLY=interop runs only the files whose name contains it (for working on one check).
  .filter((f) => f.includes(process.env.SK_ONLY ?? '')).sort().map((f) => join(here, 'tests', f));
const code = await new Promise((resolve) => {
  const t = spawn(process.execPath, ['--test', '--test-concurrency=8', '--test-reporter=spec', ...files], {
    env: { ...process.env, SK_FIXTURE: fixtureFile }, stdio: 'inherit',
  });
  t.on('exit', (c) => resolve(c ?? 1));
});
sim.kill('SIGTERM');
elsterSim.kill('SIGTERM');
receiver.close();
await landC.close();
server.kill('SIGTERM');
await new Promise((r) => (exited ? r() : server.on('exit', r)));
rmSync(dir, { recursive: true, force: true });
process.exit(code);
