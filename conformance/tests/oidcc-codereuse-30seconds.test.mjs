// oidcc-codereuse-30seconds: the second redemption comes 30 seconds after the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeFor, redeem, userinfo, sleep } from '../harness.mjs';

test('oidcc-codereuse-30seconds', { timeout: 60_000 }, async () => {
  const { code } = await codeFor({ scope: 'openid email' });
  const first = await redeem(code);
  assert.equal(first.status, 200);
  await sleep(30_000);
  const second = await redeem(code);
  assert.equal(second.json.error, 'invalid_grant');
  assert.equal((await userinfo(first.json.access_token)).status, 401);
});
