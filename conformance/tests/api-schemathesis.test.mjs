// The resource API against its own OpenAPI document (R-API-1): schemathesis (PyPI), a tool we
// did not write, generates requests for every operation with a real user token (and without
// one, and with broken ones) and checks that nothing answers 5xx and every response — status,
// content type, headers, body — matches what the document says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fx, codeFor, redeem } from '../harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// Deleting the organisation ends every other operation's test data: it runs on its own.
const DELETE_ORG = 'DELETE /orgs/{org_id}';

/** The access token of an organisation's administrator for the administration tool. */
async function adminToken(user) {
  const { code } = await codeFor({ scope: 'openid account org:admin' }, { user, client: fx.orgTool });
  const { json: tokens } = await redeem(code, fx.orgTool);
  assert.ok(tokens.access_token, JSON.stringify(tokens));
  return tokens.access_token;
}

/** Runs schemathesis as `user` (their organisation and id in every path that names one). Not
 * synchronously: a blocked event loop would keep undici from retiring the connections the server
 * closed meanwhile. */
async function schemathesis(token, user, filter) {
  const run = await new Promise((resolve) => {
    const child = execFile(process.env.SK_SCHEMATHESIS, [
      '--config-file', join(here, '..', 'schemathesis.toml'),
      'run', `${fx.issuer}/api/v1/openapi.json`,
      '--header', `Authorization: Bearer ${token}`,
      '--checks', 'all',
      '--max-examples', '50',
      '--request-timeout', '10',
      '--generation-database', 'none',
      ...filter,
    ], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1', SK_ORG_ID: user.org_id, SK_ORG_USER_ID: user.user_id }, timeout: 240_000 },
    (error, stdout, stderr) => resolve({ status: error ? (error.code ?? 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
  const out = `${run.stdout}\n${run.stderr}`;
  console.log(out.slice(out.indexOf('SUMMARY')));
  assert.equal(run.status, 0, out);
  // Either no issues at all, or only the warning that random ids met no resource (a group the
  // fuzzer made up): every other warning and every failure fails the test.
  const warnings = [...out.matchAll(/⚠️ (.+)/g)].map(([, w]) => w.trim());
  assert.ok(/No issues found/.test(out) || (warnings.length > 0 && warnings.every((w) => w.startsWith('Missing test data'))), out);
  assert.doesNotMatch(out, /FAILURES|unique failures|\d+ failed/, out);
  const [, selected, total] = (out.match(/Selected: (\d+)\/(\d+)/) ?? []).map(Number);
  const [, tested] = (out.match(/Tested: (\d+)/) ?? []).map(Number);
  return { out, selected, total, tested };
}

test('schemathesis finds nothing in /api/v1 with a user token', async () => {
  assert.ok(process.env.SK_SCHEMATHESIS, 'SK_SCHEMATHESIS must name the schemathesis binary (scripts/test.sh installs it)');
  // The token of an organisation's administrator: every operation reaches its domain logic, with
  // the organisation's id in every path that names one (schemathesis.toml).
  const main = await schemathesis(await adminToken(fx.orgAdmin), fx.orgAdmin, ['--exclude-name', DELETE_ORG]);
  assert.ok(main.total > 1 && main.selected === main.total - 1 && main.tested === main.selected,
    `every operation but the organisation's deletion was tested: ${main.out}`);

  // The deletion, on an organisation of its own, which is gone afterwards.
  const token = await adminToken(fx.doomedOrg);
  const last = await schemathesis(token, fx.doomedOrg, ['--include-name', DELETE_ORG]);
  assert.ok(last.selected === 1 && last.tested === 1, last.out);
  const after = await fetch(`${fx.issuer}/api/v1/orgs/${fx.doomedOrg.org_id}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(after.status, 401, 'the organisation and its administrator are gone');
});
