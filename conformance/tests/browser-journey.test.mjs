// The citizen's whole journey in a real browser (Debian's headless Chromium driven by
// playwright-core): register → activation link from the outbox → activate → a service starts
// a login → login → consent → back at the service with a code it redeems; then email change,
// password reset and deletion. Every page on the way is scanned with axe-core for WCAG 2.0 and
// 2.1 A/AA violations; one violation fails the test. Last, a citizen of Land C logs in to a
// service here "Mit anderem Servicekonto" (pick Land → log in there → consent → back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { fx, authorizeUrl, codeFor, redeem, verifyIdToken, userinfo, sleep, totpCode } from '../harness.mjs';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.SK_REQUIRE_BROWSER) throw new Error(`${CHROMIUM} is missing; scripts/test.sh installs it`);

// Waits for a mail to `to` with a link to `path`; the newest link.
async function mailLink(to, path) {
  const pattern = new RegExp(`${fx.issuer.replace(/[.]/g, '\\.')}${path}\\?token=[A-Za-z0-9_-]{43}`, 'g');
  for (let i = 0; i < 100; i++) {
    const links = [];
    const files = existsSync(fx.outbox) ? readdirSync(fx.outbox).filter((f) => f.endsWith('.eml')) : [];
    for (const f of files) {
      const text = readFileSync(join(fx.outbox, f), 'utf8');
      if (!text.split('\r\n').some((l) => l.toLowerCase() === `to: ${to}`)) continue;
      links.push(...(text.match(pattern) ?? []));
    }
    if (links.length) return links.at(-1);
    await sleep(100);
  }
  throw new Error(`no mail to ${to} with a link to ${path}`);
}

test('browser journey: register, activate, log in at a service, change email, reset password, delete — accessible throughout', { skip: !available && 'Debian chromium not installed' }, async (t) => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  // bypassCSP lets axe's script in; the pages' own CSP is checked on every response below.
  const context = await browser.newContext({ bypassCSP: true, locale: 'de-DE' });
  const page = await context.newPage();
  const scanned = [];
  page.on('response', (res) => {
    if (res.url().startsWith(fx.issuer) && (res.headers()['content-type'] ?? '').startsWith('text/html')) {
      const csp = res.headers()['content-security-policy'] ?? '';
      assert.ok(csp.includes("default-src 'none'") && !csp.includes('unsafe-inline'), `strict CSP on ${res.url()}`);
    }
  });
  // The service (relying party) at the registered redirect URI: captures where the browser lands.
  let landed;
  await context.route('http://127.0.0.1:9/**', (route) => {
    landed = new URL(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><html lang="de"><title>Dienst</title><main><h1>Dienst</h1></main></html>' });
  });

  async function scan(label) {
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(() => globalThis.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    assert.deepEqual(problems, [], `${label} (${page.url()}) has accessibility violations`);
    scanned.push(label);
  }
  const goto = async (url, label) => {
    const res = await page.goto(url);
    await scan(label);
    return res;
  };

  const email = `journey-${process.pid}-${Date.now()}@example.de`;
  const newEmail = `neu-${process.pid}-${Date.now()}@example.de`;
  const password = 'Reise-2026!';

  await t.test('start page, accessibility statement, English, not found', async () => {
    await goto(`${fx.issuer}/`, 'start page');
    assert.match(await page.textContent('#leichte-sprache'), /Leichte Sprache/);
    await goto(`${fx.issuer}/barrierefreiheit`, 'accessibility statement');
    await goto(`${fx.issuer}/register?lang=en`, 'registration (English)');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await goto(`${fx.issuer}/?lang=de`, 'start page again in German');
    const res = await goto(`${fx.issuer}/gibt-es-nicht`, 'not found');
    assert.equal(res.status(), 404);
  });

  await t.test('register with errors, summary, back, consent, activation mail, activate', async () => {
    await page.goto(`${fx.issuer}/`);
    await page.click('header nav >> text=Registrieren');
    await scan('registration form');
    await page.click('form[action="/register"] button[type=submit]');
    await scan('registration form with errors');
    assert.ok(await page.isVisible('#error-summary'));
    assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
    await page.fill('#given_name', 'Erika');
    await page.fill('#family_name', 'Mustermann');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.fill('#password_repeat', password);
    await page.click('form[action="/register"] button[type=submit]');
    assert.match(page.url(), /\/register\/summary$/);
    await scan('registration summary');
    assert.ok(!(await page.content()).includes(password));
    await page.click('button[value=back]');
    await scan('registration form after back');
    assert.equal(await page.inputValue('#email'), email);
    await page.fill('#family_name', 'Musterfrau');
    await page.click('form[action="/register"] button[type=submit]');
    await page.click('button[value=create]');
    await scan('registration summary without consent');
    await page.check('#consent');
    await page.click('button[value=create]');
    assert.match(page.url(), /\/register\/sent$/);
    await scan('check your mail');
    await goto(await mailLink(email, '/register/activate'), 'activation page');
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await scan('account activated');
    assert.match(await page.textContent('h1'), /aktiviert/);
  });

  await t.test('an organisation registers in four steps, activates, and its administrator logs in', async () => {
    const own = await browser.newContext({ bypassCSP: true, locale: 'de-DE' });
    const p = await own.newPage();
    const scanHere = async (label) => {
      await p.addScriptTag({ content: axeSource });
      const result = await p.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.help}`), [], `${label} has accessibility violations`);
      scanned.push(label);
    };
    const admin = `inhaberin-${process.pid}-${Date.now()}@tischlerei.example`;
    await p.goto(`${fx.issuer}/register`);
    await p.click('text=Organisation registrieren');
    await scanHere('organisation registration, step 1');
    await p.fill('#name', 'Tischlerei <Span>');
    await p.fill('#house_number', '12 a');
    await p.click('form[action="/register/organisation"] button[type=submit]');
    await scanHere('organisation registration, step 1 with errors');
    assert.equal(await p.getAttribute('#name', 'aria-invalid'), 'true');
    assert.equal(await p.getAttribute('#house_number', 'aria-invalid'), 'true');
    await p.fill('#name', 'Tischlerei Span GmbH');
    await p.fill('#trade_register', 'HRB 4712');
    await p.fill('#street', 'Holzweg');
    await p.fill('#house_number', '12a-c');
    await p.fill('#postal_code', '50667');
    await p.fill('#city', 'Köln');
    await p.click('form[action="/register/organisation"] button[type=submit]');
    assert.match(p.url(), /\/register\/organisation\/admin$/);
    await scanHere('organisation registration, step 2');
    await p.fill('#given_name', 'Sina');
    await p.fill('#family_name', 'Span');
    await p.fill('#birthdate', '2015-01-01');
    await p.fill('#phone_number', '+49 221 1234');
    await p.fill('#email', admin);
    await p.fill('#password', password);
    await p.fill('#password_repeat', password);
    await p.click('form[action="/register/organisation/admin"] button[type=submit]');
    await scanHere('organisation registration, step 2 with an error');
    assert.equal(await p.getAttribute('#birthdate', 'aria-invalid'), 'true');
    await p.fill('#birthdate', '1980-05-17');
    await p.fill('#password', password);
    await p.fill('#password_repeat', password);
    await p.click('form[action="/register/organisation/admin"] button[type=submit]');
    assert.match(p.url(), /\/register\/organisation\/services$/);
    await scanHere('organisation registration, step 3');
    await p.check('label:has-text("Gewerbeanzeige")');
    await p.click('button[value=continue]');
    assert.match(p.url(), /\/register\/organisation\/summary$/);
    await scanHere('organisation registration, step 4');
    assert.match(await p.textContent('main'), /Holzweg 12a-c, 50667 Köln/);
    await p.check('#consent');
    await p.click('button[value=create]');
    assert.match(p.url(), /\/register\/sent$/);
    await p.goto(await mailLink(admin, '/register/organisation/activate'));
    await scanHere('organisation activation');
    await p.fill('#password', password);
    await p.click('button[type=submit]');
    await scanHere('organisation registered');
    assert.match(await p.textContent('h1'), /registriert/);
    await p.goto(`${fx.issuer}/login`);
    await p.fill('#email', admin);
    await p.fill('#password', password);
    await p.click('form[action="/login"] button[type=submit]');
    await scanHere('start page of an organisation administrator');
    assert.match(await p.textContent('main'), new RegExp(admin.replace(/[.]/g, '\\.')));

    // The administration pages: the organisation, a new employee, services, deletion.
    await p.click('main >> text=Organisation verwalten');
    assert.match(p.url(), /\/org\/$/);
    await scanHere('organisation administration');
    assert.match(await p.textContent('main'), /Gewerbeanzeige/);
    await p.click('text=Zugang anlegen');
    await scanHere('new account of the organisation');
    await p.fill('#given_name', 'Emil');
    await p.fill('#family_name', 'Span');
    await p.fill('#email', 'emil@span');
    await p.click('form[action="/org/users/new"] button[type=submit]');
    await scanHere('new account with an error');
    assert.equal(await p.getAttribute('#email', 'aria-invalid'), 'true');
    await p.fill('#email', `emil-${Date.now()}@tischlerei.example`);
    await p.click('form[action="/org/users/new"] button[type=submit]');
    assert.match(p.url(), /\/org\/\?done=invited$/);
    await scanHere('organisation administration with the new account');
    await p.click('table tr:has-text("Emil Span") >> text=Online-Dienste zuweisen');
    await scanHere('services of one account');
    await p.goto(`${fx.issuer}/org/`);
    await p.fill('#group-name', 'Werkstatt');
    await p.click('form[action="/org/groups"] button[type=submit]');
    assert.match(p.url(), /\/org\/groups\/[A-Za-z0-9_-]+$/);
    await scanHere('a group with its members and services');
    await p.check('label:has-text("Emil Span")');
    await p.click('button[value=save]');
    assert.match(p.url(), /\/org\/\?done=group_saved$/);
    await p.click('table tr:has-text("Emil Span") >> text=Bearbeiten');
    await scanHere('an account to change');
    await p.fill('#family_name', 'Spanner');
    await p.click('form[action^="/org/users/"] button[type=submit]');
    assert.match(p.url(), /\?done=saved$/);
    await scanHere('an account changed');

    // ELSTER: the administrator links their certificate (the first link takes the organisation's
    // data from ELSTER and locks them), then logs in with it. The simulator's page is a
    // development tool and not scanned.
    await p.goto(`${fx.issuer}/profile`);
    await scanHere('profile of an organisation user without a certificate');
    await p.click('text=ELSTER-Zertifikat verknüpfen');
    await p.check('#person-musterbau-anna');
    await p.click('button[value=ok]');
    await p.waitForURL(`${fx.issuer}/profile?done=elster_first`);
    await scanHere('profile with the ELSTER certificate linked');
    assert.match(await p.textContent('main'), /stammen jetzt aus ELSTER/);
    const fresh = await browser.newContext({ bypassCSP: true, locale: 'de-DE' });
    const q = await fresh.newPage();
    await q.goto(`${fx.issuer}/login`);
    await q.click('text=Mit ELSTER-Organisationszertifikat anmelden');
    await q.check('#person-musterbau-anna');
    await q.click('button[value=ok]');
    await q.waitForURL(`${fx.issuer}/`);
    assert.match(await q.textContent('main'), new RegExp(admin.replace(/[.]/g, '\\.')));
    await fresh.close();
    await p.goto(`${fx.issuer}/org/`);
    assert.match(await p.textContent('main'), /Musterbau GmbH[\s\S]*stammen aus ELSTER/);
    await p.goto(`${fx.issuer}/org/delete`);
    await scanHere('deleting the organisation');
    await own.close();
  });

  await t.test('a service starts a login; login, consent, and the service redeems its code', async () => {
    landed = undefined;
    const state = `st-${Date.now()}`;
    await page.goto(authorizeUrl({ scope: 'openid profile email', state, nonce: 'n-journey' }));
    await scan('login for a service');
    await page.fill('#email', email);
    await page.fill('#password', 'falsch-Passwort-1');
    await page.click('form[action="/login"] button[type=submit]');
    await scan('login failed');
    await page.fill('#password', password);
    await page.click('form[action="/login"] button[type=submit]');
    assert.match(page.url(), /\/consent\?/);
    await scan('consent');
    await page.click('button[value=allow]');
    await page.waitForURL('http://127.0.0.1:9/**');
    assert.ok(landed, 'the browser arrived at the service');
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('iss'), fx.issuer);
    const { status, json } = await redeem(landed.searchParams.get('code'));
    assert.equal(status, 200);
    await verifyIdToken(json.id_token, { nonce: 'n-journey' });
    const info = await userinfo(json.access_token);
    assert.equal(info.json.family_name, 'Musterfrau');
    assert.equal(info.json.email, email);
  });

  await t.test('the catalogue, and a service for organisations refuses a citizen', async () => {
    await goto(`${fx.issuer}/dienste`, 'catalogue');
    await page.fill('#q', 'gewerbe ummelden');
    await page.click('form[action="/dienste"] button[type=submit]');
    await scan('catalogue search');
    assert.deepEqual(await page.$$eval('ul.services h2', (hs) => hs.map((h) => h.textContent)), ['Gewerbeanzeige']);
    assert.match(await page.textContent('ul.services'), /Fachliche Leitstelle/);
    landed = undefined;
    const state = `st-org-${Date.now()}`;
    // The citizen's session is of the wrong kind: the login page asks for an organisation's account.
    await page.goto(authorizeUrl({ state }, fx.organisations));
    await scan('login for a service for organisations');
    assert.match(await page.textContent('main'), /nur Organisationen offen/);
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('form[action="/login"] button[type=submit]');
    await scan('service not for this account');
    assert.match(await page.textContent('h1'), /nicht nutzbar/);
    await page.click('main .actions a.button');
    await page.waitForURL('http://127.0.0.1:9/**');
    assert.equal(landed.searchParams.get('error'), 'access_denied');
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('code'), null);
  });

  await t.test('an organisation: the Fachliche Leitstelle releases a service, the administrator grants it, the service sees the roles', async () => {
    const desk = await browser.newContext({ bypassCSP: true, locale: 'de-DE' });
    const staffPage = await desk.newPage();
    const scanOn = async (p, label) => {
      await p.addScriptTag({ content: axeSource });
      const result = await p.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.help}`), [], `${label} has accessibility violations`);
      scanned.push(label);
    };
    await staffPage.goto(`${fx.issuer}/staff/login`);
    await staffPage.fill('#username', fx.leitstelle.username);
    await staffPage.fill('#password', fx.leitstelle.password);
    await staffPage.fill('#code', totpCode(fx.leitstelle.totp_uri));
    await staffPage.click('button[type=submit]');
    await scanOn(staffPage, 'releases for organisations');
    await staffPage.click('table tr:has-text("Bäckerei Korn") >> text=Prüfen');
    await scanOn(staffPage, 'release check');
    assert.match(await staffPage.textContent('main'), /HRA 4711/);
    await staffPage.click('button[value=approve]');
    await staffPage.waitForURL(`${fx.issuer}/staff/`);
    await scanOn(staffPage, 'releases after the decision');
    assert.ok(!(await staffPage.textContent('main')).includes('Bäckerei Korn'), 'decided: off the list');
    await desk.close();

    // The administrator grants the released service to themselves with a role, through the API.
    const { code } = await codeFor({ scope: 'openid org:admin' }, { user: fx.journeyOrg, client: fx.orgTool });
    const { json: toolTokens } = await redeem(code, fx.orgTool);
    const org = fx.journeyOrg;
    const grant = await fetch(`${fx.issuer}/api/v1/orgs/${org.org_id}/users/${org.user_id}/services/${fx.organisations.client_id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${toolTokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ roles: ['sachbearbeitung'] }),
    });
    assert.equal(grant.status, 204, await grant.text());

    // They log in to the service in a browser of their own; the service sees organisation and role.
    const own = await browser.newContext({ bypassCSP: true, locale: 'de-DE' });
    const orgPage = await own.newPage();
    let arrived;
    await own.route('http://127.0.0.1:9/**', (route) => {
      arrived = new URL(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><html lang="de"><title>Dienst</title><main><h1>Dienst</h1></main></html>' });
    });
    await orgPage.goto(authorizeUrl({ scope: 'openid profile', nonce: 'n-org' }, fx.organisations));
    await scanOn(orgPage, 'login for a service for organisations, as an organisation');
    await orgPage.fill('#email', org.email);
    await orgPage.fill('#password', org.password);
    await orgPage.click('form[action="/login"] button[type=submit]');
    assert.match(orgPage.url(), /\/consent\?/);
    await scanOn(orgPage, 'consent of an organisation user');
    await orgPage.click('button[value=allow]');
    await orgPage.waitForURL('http://127.0.0.1:9/**');
    const { status, json } = await redeem(arrived.searchParams.get('code'), fx.organisations);
    assert.equal(status, 200, JSON.stringify(json));
    const { payload } = await verifyIdToken(json.id_token, { client: fx.organisations, nonce: 'n-org' });
    assert.equal(payload.org_id, org.org_id);
    assert.equal(payload.org_name, 'Bäckerei Korn');
    assert.deepEqual(payload.service_roles, ['sachbearbeitung']);
    const info = await userinfo(json.access_token);
    assert.deepEqual(info.json.service_roles, ['sachbearbeitung']);
    await own.close();
  });

  await t.test('profile and email change', async () => {
    await goto(`${fx.issuer}/profile`, 'profile');
    assert.match(await page.textContent('#consents ~ ul'), /Conformance RP/);
    await page.fill('#phone_number', '+49 221 1234');
    await page.check('#delivery_consent');
    await page.click('form[action="/profile"] button[type=submit]');
    await scan('profile saved');
    await page.fill('#postal_code', '51147');
    await page.click('form[action="/profile"] button[type=submit]');
    await scan('profile with an error');
    await goto(`${fx.issuer}/profile/password`, 'password change');
    await goto(`${fx.issuer}/profile/email`, 'email change');
    await page.fill('#email', newEmail);
    await page.fill('#email_repeat', newEmail);
    await page.click('button[type=submit]');
    await scan('email change requested');
    await goto(await mailLink(newEmail, '/profile/email/confirm'), 'email confirmation');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await scan('email changed');
    // R-SEC-3: a new login name ends every session; the next login uses it.
    await page.goto(`${fx.issuer}/profile`);
    assert.match(page.url(), /\/login\?next=/);
    await page.fill('#email', newEmail);
    await page.fill('#password', password);
    await page.click('form[action="/login"] button[type=submit]');
    await page.waitForURL(`${fx.issuer}/profile`);
  });

  await t.test('Servicekonto Plus: a Kundenzentrum confirms the identity, the card is linked by a sync', async () => {
    await goto(`${fx.issuer}/profile/plus-request`, 'Kundenzentrum request');
    await page.click('button[type=submit]');
    await scan('Kundenzentrum request with errors');
    await page.fill('#birthdate', '1964-08-12');
    await page.fill('#street', 'Heidestraße');
    await page.fill('#house_number', '17');
    await page.fill('#postal_code', '51147');
    await page.fill('#city', 'Köln');
    await page.fill('#country', 'DE');
    await page.click('button[type=submit]');
    await scan('profile with an open request');
    // The clerk, in a browser of their own.
    const clerk = await browser.newContext({ bypassCSP: true, locale: 'de-DE' });
    const desk = await clerk.newPage();
    const scanDesk = async (label) => {
      await desk.addScriptTag({ content: axeSource });
      const result = await desk.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.help}`), [], `${label} has accessibility violations`);
      scanned.push(label);
    };
    await desk.goto(`${fx.issuer}/staff/login`);
    await scanDesk('staff login');
    await desk.fill('#username', fx.staff.username);
    await desk.fill('#password', fx.staff.password);
    await desk.fill('#code', totpCode(fx.staff.totp_uri));
    await desk.click('button[type=submit]');
    await scanDesk('open requests');
    await desk.click('table >> text=Prüfen');
    await scanDesk('identity check');
    await desk.fill('#last_digits', '4711');
    await desk.click('button[value=confirm]');
    await scanDesk('open requests after the check');
    await clerk.close();
    await goto(`${fx.issuer}/profile`, 'profile as Servicekonto Plus');
    assert.match(await page.textContent('#plus ~ p'), /bestätigt/);
    // Link the card: the simulator's page is a development tool and not scanned.
    await page.click('text=Daten mit Ausweis abgleichen');
    await page.check('#person-erika-married');
    await page.click('button[value=ok]');
    await page.waitForURL(`${fx.issuer}/profile?done=synced`);
    await scan('profile after the sync with the ID card');
    assert.match(await page.textContent('main'), /Anmeldung mit dem Online-Ausweis ist eingeschaltet/);
  });

  await t.test('logout, forgotten password, reset, login with the new data', async () => {
    await page.goto(`${fx.issuer}/profile`);
    await page.click('header nav >> text=Abmelden');
    await scan('logout confirmation');
    await page.click('button[type=submit]');
    await scan('logged out');
    await goto(`${fx.issuer}/password/forgot`, 'forgotten password');
    await page.fill('#email', newEmail);
    await page.click('button[type=submit]');
    await scan('reset link sent');
    await goto(await mailLink(newEmail, '/password/reset'), 'reset form');
    await page.fill('#password', 'kurz');
    await page.fill('#password_repeat', 'kurz');
    await page.click('button[type=submit]');
    await scan('reset form with an error');
    await page.fill('#password', 'Zurück-2026!');
    await page.fill('#password_repeat', 'Zurück-2026!');
    await page.click('button[type=submit]');
    await scan('password reset');
    await goto(`${fx.issuer}/login`, 'login');
    await page.fill('#email', newEmail);
    await page.fill('#password', 'Zurück-2026!');
    await page.click('form[action="/login"] button[type=submit]');
    await scan('start page logged in');
    assert.match(await page.textContent('main'), new RegExp(newEmail.replace(/[.]/g, '\\.')));
  });

  await t.test('deletion', async () => {
    await goto(`${fx.issuer}/profile/delete`, 'deletion');
    await page.check('#confirm');
    await page.fill('#password', 'Zurück-2026!');
    await page.click('button[type=submit]');
    await scan('account deleted');
    assert.match(await page.textContent('h1'), /gelöscht/);
    await page.goto(`${fx.issuer}/profile`);
    assert.match(page.url(), /\/login\?next=/);
  });

  await t.test('Mit anderem Servicekonto: a citizen of Land C (oidc-provider) logs in to a service here', async () => {
    // Land C's pages belong to the other Land's software and are not scanned; ours are.
    const toLandC = async (client) => {
      landed = undefined;
      await page.goto(authorizeUrl({ scope: 'openid profile email address', state: `st-fed-${Date.now()}` }, client));
      await scan('login offering another Servicekonto');
      await page.click('form.land button[type=submit]');
      assert.match(page.url(), /\/login\/land\?txn=/);
      await scan('list of Länder (one unavailable)');
      assert.match(await page.textContent('main'), /Servicekonto Land Z[\s\S]*nicht erreichbar/);
      await page.click('button:has-text("Weiter zu Servicekonto Land C")');
      await page.waitForURL(`${fx.landC.issuer}/**`);
    };
    const atLandC = async (who) => {
      await page.fill('#login', who);
      await page.fill('#password', fx.landC.persons[who].password);
      await page.click('button:has-text("Anmelden")');
      await page.click('button:has-text("Zustimmen")');
    };
    await toLandC(fx.interop);
    await atLandC('lena');
    await page.waitForURL(`${fx.issuer}/consent?**`);
    await scan('consent for a login through Land C');
    const shown = await page.textContent('main');
    assert.match(shown, /Servicekonto Land C/);
    assert.match(shown, /Lena Schulte|Lena/);
    assert.match(shown, /lena@land-c\.example/);
    await page.click('button[value=allow]');
    await page.waitForURL('http://127.0.0.1:9/**');
    assert.ok(landed?.searchParams.get('code'), 'the service got a code');
    const { status, json } = await redeem(landed.searchParams.get('code'), fx.interop);
    assert.equal(status, 200);
    const { payload } = await verifyIdToken(json.id_token, { client: fx.interop });
    assert.equal(payload.acr, 'urn:servicekonto:acr:plus');
    assert.deepEqual(payload.amr, ['fed']);
    // A citizen whose Land confirms only the basic level, at a service that needs Plus.
    await toLandC(fx.interopPlus);
    await atLandC('jonas');
    await page.waitForURL(`${fx.issuer}/upstream/land-c/callback?**`);
    await scan('refusal: the Land\'s level is too low');
    await page.click('button:has-text("Zurück zum Online-Dienst")');
    await page.waitForURL('http://127.0.0.1:9/**');
    assert.equal(landed.searchParams.get('error'), 'unmet_authentication_requirements');
  });

  await t.test('another Land identifies a citizen of ours: login every time, consent with deselectable data', async () => {
    landed = undefined;
    await page.goto(authorizeUrl({ scope: 'openid profile email', state: 'st-partner' }, fx.partner));
    await scan('login for another Land');
    await page.fill('#email', fx.user.email);
    await page.fill('#password', fx.user.password);
    await page.click('form[action="/login"] button[type=submit]');
    await page.waitForURL(`${fx.issuer}/consent?**`);
    await scan('consent for another Land (deselectable)');
    await page.uncheck('#attr_email');
    await page.click('button[value=allow]');
    await page.waitForURL('http://127.0.0.1:9/**');
    const { json } = await redeem(landed.searchParams.get('code'), fx.partner);
    const info = await userinfo(json.access_token);
    assert.equal(info.json.given_name, 'Erika');
    assert.equal(info.json.email, undefined, 'the deselected email was not sent');
    // No single sign-on: the next request asks for a login again.
    await page.goto(authorizeUrl({ scope: 'openid profile email' }, fx.partner));
    assert.match(page.url(), /\/login\?txn=/);
  });

  assert.ok(scanned.length >= 30, `scanned ${scanned.length} pages`);
});
