// The resource API against its own OpenAPI document (R-API-1): schemathesis (PyPI), a tool we
// did not write, generates requests for every operation with a real user token (and without
// one, and with broken ones) and checks that nothing answers 5xx and every response — status,
// content type, headers, body — matches what the document says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fx, codeFor, redeem } from '../harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));

test('schemathesis finds nothing in /api/v1 with a user token', async () => {
  const bin = process.env.SK_SCHEMATHESIS;
  assert.ok(bin, 'SK_SCHEMATHESIS must name the schemathesis binary (scripts/test.sh installs it)');
  // The token of an organisation's administrator: every operation reaches its domain logic, with
  // the organisation's id in every path that names one (schemathesis.toml).
  const { code } = await codeFor({ scope: 'openid account org:admin' }, { user: fx.orgAdmin, client: fx.orgTool });
  const { json: tokens } = await redeem(code, fx.orgTool);
  assert.ok(tokens.access_token, JSON.stringify(tokens));
  const run = spawnSync(bin, [
    '--config-file', join(here, '..', 'schemathesis.toml'),
    'run', `${fx.issuer}/api/v1/openapi.json`,
    '--header', `Authorization: Bearer ${tokens.access_token}`,
    '--checks', 'all',
    '--max-examples', '50',
    '--request-timeout', '10',
    '--generation-database', 'none',
  ], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', SK_ORG_ID: fx.orgAdmin.org_id, SK_ORG_USER_ID: fx.orgAdmin.user_id }, timeout: 240_000 });
  const out = `${run.stdout}\n${run.stderr}`;
  console.log(out.slice(out.indexOf('SUMMARY')));
  assert.equal(run.status, 0, out);
  // Either no issues at all, or only the warning that random ids met no resource (a group the
  // fuzzer made up): every other warning and every failure fails the test.
  const warnings = [...out.matchAll(/⚠️ (.+)/g)].map(([, w]) => w.trim());
  assert.ok(/No issues found/.test(out) || (warnings.length > 0 && warnings.every((w) => w.startsWith('Missing test data'))), out);
  assert.doesNotMatch(out, /FAILURES|unique failures|\d+ failed/, out);
  const [, selected, total] = out.match(/Selected: (\d+)\/(\d+)/) ?? [];
  const [, tested] = out.match(/Tested: (\d+)/) ?? [];
  assert.ok(Number(total) > 0 && tested === total && selected === total, `every operation of the document was tested: ${out}`);
});
