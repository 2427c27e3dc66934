// The admin panel in a real browser: Debian's chromium driven by
// playwright-core, against a real daemon (lib/facteur.mjs). The tests
// run in order and build on each other: an admin adds a domain, a
// mailbox and an alias, reads the setup page, changes a password; a
// mailbox user then signs in and sees only their own page.
//
// Every page is watched: a JavaScript error, a Content-Security-Policy
// violation, a console error or a failed load of the panel's own files
// fails the test it happened in. (A 4xx from /api is the API answering,
// which the panel shows; the browser logs those as console errors.)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';
import { test, before, afterEach, after } from './lib/harness.mjs';
import { Facteur, HOSTNAME, REPO } from './lib/facteur.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
// With UPDATE_SCREENSHOTS=1, the README's pictures are refreshed too.
const DOCS = path.join(REPO, 'docs', 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'";

const ADMIN = 'boss';
const ADMIN_PW = 'boss password 123';
const DOMAIN = 'shop.example';
const ALICE = 'alice@' + DOMAIN;
const DAVE = 'dave@' + DOMAIN;
const DAVE_PW = 'dave password 1';

const S = {
	facteur: null,
	browser: null,
	token: null,		// a write token made with the CLI
	api: null,		// an APIRequestContext with it
	admin: null,		// { context, page } signed in as ADMIN
	alicePassword: null,
	contexts: [],
	problems: [],
};

// ---- helpers ----

// A full-page screenshot in artifacts/; for the README's pictures
// (docs/screenshots/, refreshed with UPDATE_SCREENSHOTS=1), what the
// window shows.
async function shot(page, name, docs) {
	await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'),
	    fullPage: true });
	if (docs) {
		const file = path.join(ARTIFACTS, name + '-window.png');
		await page.screenshot({ path: file });
		if (process.env.UPDATE_SCREENSHOTS) {
			fs.mkdirSync(DOCS, { recursive: true });
			fs.copyFileSync(file, path.join(DOCS, name + '.png'));
		}
	}
}

function watch(page) {
	page.on('console', (m) => {
		if (m.type() !== 'error')
			return;
		const url = (m.location() && m.location().url) || '';
		if (/^Failed to load resource: the server responded with a status of 4\d\d/
		    .test(m.text()) && new URL(url, S.facteur.base).pathname
		    .startsWith('/api/'))
			return;
		S.problems.push('console: ' + m.text() + ' (' + url + ')');
	});
	page.on('pageerror', (e) => S.problems.push('page error: ' +
	    e.message));
	page.on('response', (r) => {
		const u = new URL(r.url());
		if (r.status() >= 400 && !u.pathname.startsWith('/api/'))
			S.problems.push('HTTP ' + r.status() + ' for ' + u.pathname);
	});
	// (ERR_ABORTED: the page moved on before a load ended.)
	page.on('requestfailed', (r) => {
		const why = r.failure() ? r.failure().errorText : '';
		if (!new URL(r.url()).pathname.startsWith('/api/') &&
		    why !== 'net::ERR_ABORTED')
			S.problems.push('request failed: ' + r.url() + ' ' + why);
	});
}

async function newPage(opts) {
	const context = await S.browser.newContext(Object.assign({
		baseURL: S.facteur.base,
		ignoreHTTPSErrors: true,
		viewport: { width: 1280, height: 800 },
		locale: 'en-US',
		timezoneId: 'UTC',
		permissions: ['clipboard-read', 'clipboard-write'],
	}, opts || {}));
	// Reported by the browser as console errors too; this says which
	// directive, whatever the browser's wording.
	await context.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (e) =>
		    console.error('CSP violation: ' + e.violatedDirective + ' ' +
		    e.blockedURI));
	});
	const page = await context.newPage();
	page.setDefaultTimeout(10000);
	watch(page);
	S.contexts.push(context);
	return { context, page };
}

async function signIn(page, user, password) {
	await page.goto('/');
	await page.getByRole('heading', { name: 'Sign in to Facteur' })
	    .waitFor();
	await page.getByLabel('Admin name or mail address').fill(user);
	await page.getByLabel('Password', { exact: true }).fill(password);
	await page.getByRole('button', { name: 'Sign in' }).click();
}

// The status (aria-live) message, once it says something.
async function status(page, text) {
	const s = page.locator('#status');
	await s.filter({ hasText: text }).waitFor();
	return s.textContent();
}

// Signs in over the API; returns the HTTP status.
async function apiLogin(user, password) {
	const r = await request.newContext({ baseURL: S.facteur.base,
	    ignoreHTTPSErrors: true });
	try {
		const res = await r.post('/api/v1/session',
		    { data: { username: user, password } });
		return res.status();
	} finally {
		await r.dispose();
	}
}

async function apiJSON(method, urlPath, data) {
	const res = await S.api.fetch(urlPath, { method, data });
	const type = res.headers()['content-type'] || '';
	return { status: res.status(), body: type.includes('json') ?
	    await res.json() : await res.text() };
}

// Every visible form control and button has an accessible name.
async function checkLabels(page) {
	const bad = await page.evaluate(() => {
		const out = [];
		for (const el of document.querySelectorAll('input, select, ' +
		    'textarea, button, a[href]')) {
			if (el.type === 'hidden' || el.closest('[hidden]') ||
			    el.getAttribute('aria-hidden') === 'true' ||
			    !el.getClientRects().length)
				continue;
			const name = el.getAttribute('aria-label') ||
			    (el.labels && el.labels.length ?
			    el.labels[0].textContent : '') ||
			    (el.tagName === 'BUTTON' || el.tagName === 'A' ?
			    el.textContent : '');
			if (!name || !name.trim())
				out.push(el.outerHTML.slice(0, 120));
		}
		return out;
	});
	assert.deepEqual(bad, [], 'controls without an accessible name');
}

async function noHorizontalScroll(page) {
	const [sw, cw] = await page.evaluate(() =>
	    [document.documentElement.scrollWidth,
	    document.documentElement.clientWidth]);
	assert.ok(sw <= cw, 'the page scrolls sideways: ' + sw + ' > ' + cw);
}

// GET of a path exactly as written.
function rawStatus(p) {
	return new Promise((resolve, reject) => {
		const rq = https.get({ host: '127.0.0.1', port:
		    S.facteur.port('https'), path: p, rejectUnauthorized: false },
		    (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode));
		});
		rq.on('error', reject);
	});
}

function closedPort() {
	return new Promise((resolve) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
	});
}

// ---- setup and teardown ----

before(async () => {
	fs.rmSync(ARTIFACTS, { recursive: true, force: true });
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	// Mail to other domains goes to a relay that refuses connections, so
	// it stays in the queue.
	// Mail clients are told the standard ports (as behind a NAT), so
	// the setup page shows what a real one would.
	const pub = (port) => ({ public_port: String(port) });
	S.facteur = new Facteur({ relay_host: '127.0.0.1',
	    relay_port: String(await closedPort()), relay_tls: 'none' }, {
		smtp: pub(25), submission: pub(587), submissions: pub(465),
		imap: pub(143), imaps: pub(993), pop3: pub(110),
		pop3s: pub(995) });
	await S.facteur.start();
	S.facteur.cli(['admin', 'add', ADMIN, '--password-stdin'],
	    ADMIN_PW + '\n');
	const out = S.facteur.cli(['token', 'create', 'browser-tests']);
	S.token = /fct_[0-9a-f]+/.exec(out)[0];
	S.api = await request.newContext({ baseURL: S.facteur.base,
	    ignoreHTTPSErrors: true, extraHTTPHeaders: {
	    Authorization: 'Bearer ' + S.token } });
	S.browser = await chromium.launch({
		executablePath: CHROMIUM,
		// As root, chromium needs --no-sandbox; the network is closed
		// here, so nothing in the background may try it.
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
		    '--no-first-run', '--disable-background-networking',
		    '--disable-component-update', '--disable-sync',
		    '--disable-dev-shm-usage'],
	});
});

afterEach(async () => {
	const p = S.problems.splice(0);
	assert.deepEqual(p, [], 'the browser reported problems');
});

after(async () => {
	for (const c of S.contexts)
		await c.close().catch(() => {});
	if (S.browser)
		await S.browser.close();
	if (S.api)
		await S.api.dispose();
	if (S.facteur) {
		const rc = await S.facteur.stop();
		const log = S.facteur.log();
		const errors = log.split('\n').filter((l) =>
		    l.includes('level=error'));
		if (rc !== 0 || errors.length) {
			fs.writeFileSync(path.join(ARTIFACTS, 'facteur.log'), log);
			throw new Error('facteur exited with ' + rc + '; errors ' +
			    'in its log:\n' + errors.join('\n'));
		}
		S.facteur.cleanup();
	}
});

// ---- the tests ----

test('the panel is served with strict headers, only on its own paths',
    async () => {
	const r = await request.newContext({ baseURL: S.facteur.base,
	    ignoreHTTPSErrors: true });
	try {
		const index = await r.get('/');
		assert.equal(index.status(), 200);
		const h = index.headers();
		assert.equal(h['content-type'], 'text/html; charset=utf-8');
		assert.equal(h['content-security-policy'], CSP);
		assert.equal(h['x-content-type-options'], 'nosniff');
		assert.equal(h['referrer-policy'], 'no-referrer');
		assert.equal(h['x-frame-options'], 'DENY');
		assert.equal(h['cache-control'], 'no-cache');
		assert.match(h.etag, /^"[0-9a-f]+"$/);
		const html = await index.text();
		assert.doesNotMatch(html, /<script>|<style|\sstyle=|\son[a-z]+=/i,
		    'inline script or style in index.html');
		for (const p of ['/index.html', '/panel/', '/panel/domains',
		    '/panel/mailboxes/a@b.example/setup']) {
			const x = await r.get(p);
			assert.equal(x.status(), 200, p);
			assert.equal(x.headers().etag, h.etag, p);
			assert.equal(x.headers()['content-security-policy'], CSP);
		}
		for (const [p, type] of [
			['/static/js/app.js', 'text/javascript; charset=utf-8'],
			['/static/panel.css', 'text/css; charset=utf-8'],
			['/static/favicon.svg', 'image/svg+xml']]) {
			const x = await r.get(p);
			assert.equal(x.status(), 200, p);
			assert.equal(x.headers()['content-type'], type, p);
			assert.equal(x.headers()['content-security-policy'], CSP);
			assert.equal(x.headers()['x-content-type-options'],
			    'nosniff');
		}
		// A reload costs a 304.
		const again = await r.get('/static/js/app.js');
		const cached = await r.get('/static/js/app.js', { headers: {
		    'If-None-Match': again.headers().etag } });
		assert.equal(cached.status(), 304);
		// Not ours: unknown files, other paths, autoconfiguration.
		for (const p of ['/static/nope.js',
		    '/panelx', '/favicon.ico'])
			assert.equal((await r.get(p)).status(), 404, p);
		// Browsers resolve dot segments before they send a path.
		for (const p of ['/static/../index.html',
		    '/static/%2e%2e/index.html', '/static//panel.css'])
			assert.equal(await rawStatus(p), 404, p);
		const ac = await r.get('/mail/config-v1.1.xml?emailaddress=' +
		    encodeURIComponent(ALICE));
		assert.ok(!(ac.headers()['content-type'] || '')
		    .startsWith('text/html'), 'autoconfig answered by the panel');
		const post = await r.post('/', { data: {} });
		assert.equal(post.status(), 405);
		assert.equal(post.headers().allow, 'GET, HEAD');
		// Plain HTTP moves to HTTPS.
		const http = await r.get('http://127.0.0.1:' +
		    S.facteur.port('http') + '/panel/', { maxRedirects: 0 });
		assert.equal(http.status(), 301);
		assert.equal(http.headers().location, 'https://' + HOSTNAME +
		    ':' + S.facteur.port('https') + '/panel/');
	} finally {
		await r.dispose();
	}
});

test('a wrong password gets the API\'s answer; empty fields are caught ' +
    'first', async () => {
	const { page } = await newPage();
	await page.goto('/panel/domains');
	await page.getByRole('heading', { name: 'Sign in to Facteur' })
	    .waitFor();
	await checkLabels(page);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByText('enter your admin name or your mail address')
	    .waitFor();
	assert.equal(await page.getByLabel('Admin name or mail address')
	    .getAttribute('aria-invalid'), 'true');
	await signIn(page, ADMIN, 'not the password');
	const alert = page.locator('form [role="alert"]');
	await alert.filter({ hasText: 'wrong user name or password' })
	    .waitFor({ timeout: 20000 });
	await page.context().close();
});

test('an admin signs in and sees the dashboard', async () => {
	S.admin = await newPage();
	const { page } = S.admin;
	await page.goto('/panel/');
	await signIn(page, ADMIN, ADMIN_PW);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	assert.equal(new URL(page.url()).pathname, '/panel/');
	const st = (await apiJSON('GET', '/api/v1/status')).body;
	const stat = (label) => page.locator('.stat').filter({ has:
	    page.getByText(label, { exact: true }) }).locator('.value');
	assert.equal(await stat('Domains').textContent(),
	    String(st.counts.domains));
	assert.equal(await stat('Mailboxes').textContent(),
	    String(st.counts.mailboxes));
	assert.equal(await stat('Queued messages').textContent(),
	    String(st.counts.queue_messages));
	const expiry = await page.locator('[data-test="cert-expiry"]')
	    .textContent();
	assert.ok(expiry.includes(st.certificate.days_left + ' days left'),
	    expiry);
	const listeners = page.getByRole('table', { name: 'Listeners' });
	assert.equal(await listeners.locator('tbody tr').count(),
	    st.listeners.length);
	await listeners.getByRole('cell', { name: String(
	    S.facteur.port('https')), exact: true }).first().waitFor();
	await checkLabels(page);
	await shot(page, 'dashboard', true);
});

test('the admin adds a domain and reads its DNS records', async () => {
	const { page } = S.admin;
	await page.getByRole('navigation', { name: 'Main' })
	    .getByRole('link', { name: 'Domains' }).click();
	await page.getByRole('heading', { name: 'Domains', level: 1 })
	    .waitFor();
	// Navigation moves the focus to the new page's heading.
	assert.equal(await page.evaluate(() =>
	    document.activeElement.tagName), 'H1');
	const name = page.getByLabel('Domain name');
	await name.fill('bad_domain.example');
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.getByText('invalid character in domain').waitFor();
	await name.fill(DOMAIN);
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.waitForURL('**/panel/domains/' + DOMAIN + '/dns');
	await status(page, 'Domain ' + DOMAIN + ' added');
	const dns = (await apiJSON('GET', '/api/v1/domains/' + DOMAIN +
	    '/dns')).body;
	const zone = (await apiJSON('GET', '/api/v1/domains/' + DOMAIN +
	    '/dns?format=zone')).body;
	const table = page.getByRole('table', { name: 'DNS records of ' +
	    DOMAIN });
	await table.waitFor();
	assert.equal(await table.locator('tbody tr').count(),
	    dns.records.length);
	const mx = dns.records.find((r) => r.type === 'MX');
	const mxRow = table.locator('tbody tr').filter({ has:
	    page.getByRole('cell', { name: 'MX', exact: true }) });
	assert.equal(await mxRow.locator('td.value').textContent(),
	    mx.priority + ' ' + mx.target);
	assert.equal(await page.getByLabel('Zone file of ' + DOMAIN)
	    .textContent(), zone);
	assert.equal(await page.getByRole('link',
	    { name: 'Download zone file' }).getAttribute('href'),
	    '/api/v1/domains/' + DOMAIN + '/dns?format=zone');
	// Copy buttons put the value on the clipboard.
	await mxRow.getByRole('button').click();
	await status(page, 'copied');
	assert.equal(await page.evaluate(() => navigator.clipboard.readText()),
	    mx.priority + ' ' + mx.target);
	await shot(page, 'dns');
	// The same domain again: the API's refusal is shown.
	const again = await apiJSON('POST', '/api/v1/domains',
	    { name: DOMAIN });
	assert.equal(again.status, 409);
	await page.goto('/panel/domains');
	await page.getByLabel('Domain name').fill(DOMAIN);
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.locator('form [role="alert"]').filter(
	    { hasText: again.body.detail }).waitFor();
	await checkLabels(page);
});

test('the admin adds mailboxes with a generated and a typed password',
    async () => {
	const { page } = S.admin;
	await page.getByRole('link', { name: DOMAIN, exact: true }).click();
	await page.getByRole('heading', { name: DOMAIN, level: 1 }).waitFor();
	const form = page.getByRole('form', { name: 'Add a mailbox' });
	// As the API checks them.
	await form.getByLabel('Address').fill('a b');
	await form.getByRole('button', { name: 'Add mailbox' }).click();
	await form.getByText('invalid character in local part').waitFor();
	await form.getByLabel('Address').fill('alice');
	await form.getByRole('button', { name: 'Add mailbox' }).click();
	const secret = page.locator('.secret-box code.secret');
	await secret.waitFor();
	S.alicePassword = await secret.textContent();
	assert.match(S.alicePassword, /^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){3}$/);
	assert.equal(await apiLogin(ALICE, S.alicePassword), 200);

	await form.getByLabel('Address').fill('bob');
	await form.getByLabel('Type a password').check();
	await form.getByLabel('New password').fill('short');
	await form.getByRole('button', { name: 'Add mailbox' }).click();
	await form.getByText('password too short (at least 8 characters)')
	    .waitFor();
	await form.getByLabel('New password').fill('bob password 1');
	await form.getByLabel('Quota').fill('50');
	await form.getByRole('button', { name: 'Add mailbox' }).click();
	await status(page, 'Mailbox bob@' + DOMAIN + ' created');
	assert.equal(await apiLogin('bob@' + DOMAIN, 'bob password 1'), 200);
	// About 6 MiB of mail for bob, to see it on the meter.
	const eml = path.join(ARTIFACTS, 'big.eml');
	fs.writeFileSync(eml, ['From: sender@elsewhere.example', 'To: bob@' +
	    DOMAIN, 'Subject: photos', ''].concat(Array(80000).fill(
	    'x'.repeat(76))).join('\r\n') + '\r\n');
	execFileSync('swaks', ['--server', '127.0.0.1:' +
	    S.facteur.port('smtp'), '--from', 'sender@elsewhere.example',
	    '--to', 'bob@' + DOMAIN, '--data', '@' + eml], { timeout: 30000,
	    stdio: 'ignore' });
	fs.rmSync(eml);
	const used = (await apiJSON('GET', '/api/v1/mailboxes/bob@' + DOMAIN))
	    .body.storage_used;
	assert.ok(used > 6000000, used + ' bytes stored');
	await page.reload();
	const table = page.getByRole('table', { name: 'Mailboxes of ' +
	    DOMAIN });
	const bob = table.locator('tbody tr').filter({ hasText: 'bob@' +
	    DOMAIN });
	await bob.getByText(/^5\.\d+ MiB of 50 MiB \(12 %\)$/).waitFor();
	assert.equal(await bob.locator('meter').getAttribute('max'),
	    String(50 * 1024 * 1024));
	assert.equal(await bob.locator('meter').getAttribute('value'),
	    String(used));
	// One more, for the mailbox user's test.
	S.facteur.cli(['mailbox', 'add', DAVE, '--password-stdin'],
	    DAVE_PW + '\n');
	await checkLabels(page);
	await page.reload();
	await table.locator('tbody tr').nth(2).waitFor();
	await page.locator('[data-usage] .usage').nth(2).waitFor();
	await shot(page, 'mailboxes', true);
});

test('the admin adds an alias and a catch-all, edits and removes them',
    async () => {
	const { page } = S.admin;
	await page.getByRole('link', { name: 'Aliases' }).click();
	await page.waitForURL('**/panel/domains/' + DOMAIN + '/aliases');
	const form = page.getByRole('form', { name: 'Add an alias' });
	await form.getByLabel('Address', { exact: true }).fill('info');
	await form.getByLabel('Delivers to').fill('alice@' + DOMAIN +
	    '\nnot-an-address');
	await form.getByRole('button', { name: 'Add alias' }).click();
	await form.getByText('not-an-address: invalid address: missing @')
	    .waitFor();
	await form.getByLabel('Delivers to').fill(ALICE + '\nbob@' + DOMAIN);
	await form.getByRole('button', { name: 'Add alias' }).click();
	await status(page, 'Alias info@' + DOMAIN + ' added');
	await form.getByLabel(/Catch-all/).check();
	assert.ok(await form.getByLabel('Address', { exact: true })
	    .isDisabled());
	await form.getByLabel('Delivers to').fill(ALICE);
	await form.getByRole('button', { name: 'Add alias' }).click();
	await status(page, 'Catch-all of ' + DOMAIN + ' added');
	const api = (await apiJSON('GET', '/api/v1/domains/' + DOMAIN +
	    '/aliases')).body.aliases;
	assert.deepEqual(api.map((a) => a.source).sort(),
	    ['@' + DOMAIN, 'info@' + DOMAIN]);
	const table = page.getByRole('table', { name: 'Aliases of ' +
	    DOMAIN });
	const info = table.locator('tbody tr').filter({ hasText: 'info@' });
	await info.getByText('bob@' + DOMAIN).waitFor();
	await table.locator('tbody tr').filter({ hasText: 'catch-all' })
	    .waitFor();
	// Edit: only bob now.
	await page.getByRole('button', { name: 'Edit info@' + DOMAIN })
	    .click();
	await page.getByLabel('Destinations of info@' + DOMAIN)
	    .fill('bob@' + DOMAIN);
	await page.getByRole('button', { name: 'Save' }).click();
	await status(page, 'Alias info@' + DOMAIN + ' saved');
	assert.deepEqual((await apiJSON('GET', '/api/v1/aliases/info@' +
	    DOMAIN)).body.destinations, ['bob@' + DOMAIN]);
	// Remove the catch-all, confirming in the dialog.
	await page.getByRole('button', { name: 'Delete @' + DOMAIN })
	    .click();
	const dialog = page.getByRole('dialog');
	await dialog.getByText('Delete the catch-all of ' + DOMAIN + '?')
	    .waitFor();
	await dialog.getByRole('button', { name: 'Delete' }).click();
	await status(page, 'Catch-all deleted');
	assert.equal((await apiJSON('GET', '/api/v1/aliases/@' + DOMAIN))
	    .status, 404);
	await checkLabels(page);
	await shot(page, 'aliases');
});

test('the setup page shows what the API\'s client-setup says',
    async () => {
	const { page } = S.admin;
	await page.goto('/panel/domains/' + DOMAIN);
	await page.getByRole('link', { name: 'Client setup of ' + ALICE })
	    .click();
	await page.getByRole('heading', { name: 'Mail settings for ' +
	    ALICE }).waitFor();
	const cs = (await apiJSON('GET', '/api/v1/mailboxes/' + ALICE +
	    '/client-setup')).body;
	const sec = { 'ssl/tls': 'SSL/TLS', starttls: 'STARTTLS' };
	for (const dir of ['incoming', 'outgoing']) {
		const rows = page.locator('table[data-servers="' + dir +
		    '"] tbody tr');
		await rows.first().waitFor();
		const shown = await rows.evaluateAll((trs) => trs.map((tr) => {
			const f = (n) => tr.querySelector('[data-field="' + n +
			    '"]').textContent;
			return [f('protocol'), f('host'), f('port'),
			    f('security')];
		}));
		assert.deepEqual(shown, cs[dir].map((e) => [
		    e.protocol.toUpperCase(), e.host, String(e.port),
		    sec[e.security]]), dir);
	}
	assert.ok(cs.incoming.some((e) => e.port === 993),
	    'IMAP on its public port');
	assert.equal(await page.locator('[data-field="user"]').textContent(),
	    cs.user);
	// The recommended ones: implicit TLS.
	const best = page.locator('tr.best');
	assert.equal(await best.count(), 2);
	await best.nth(0).getByText('993', { exact: true }).waitFor();
	await best.nth(1).getByText('465', { exact: true }).waitFor();
	for (const client of ['Thunderbird', 'Outlook',
	    'Apple Mail (iPhone, iPad, Mac)', 'Android'])
		await page.getByRole('heading', { name: client, exact: true })
		    .waitFor();
	await page.getByText('IMAP keeps your mail and folders on the server')
	    .waitFor();
	// The Apple profile (another route, served by the API).
	assert.equal(await page.locator('[data-test="mobileconfig"]')
	    .getAttribute('href'), '/api/v1/mailboxes/' +
	    encodeURIComponent(ALICE) + '/mobileconfig');
	await checkLabels(page);
	await shot(page, 'setup', true);
	// On paper: no navigation, no buttons.
	await page.emulateMedia({ media: 'print' });
	assert.ok(!await page.getByRole('navigation', { name: 'Main' })
	    .isVisible());
	assert.ok(!await page.getByRole('button',
	    { name: 'Print these instructions' }).isVisible());
	assert.ok(await page.getByRole('heading', { name: 'Incoming mail' })
	    .isVisible());
	await shot(page, 'setup-print');
	await page.emulateMedia({ media: 'screen' });
});

test('the admin changes a mailbox password; the API takes the new one',
    async () => {
	const { page } = S.admin;
	await page.getByRole('link', { name: '← Mailbox ' + ALICE }).click();
	await page.getByRole('heading', { name: ALICE, level: 1 }).waitFor();
	const form = page.getByRole('form', { name: 'Change the password of ' +
	    ALICE });
	await form.getByLabel('Type a password').check();
	await form.getByLabel('New password').fill('alice new pass 1');
	await form.getByRole('button', { name: 'Change password' }).click();
	await status(page, 'Password of ' + ALICE + ' changed');
	assert.equal(await apiLogin(ALICE, 'alice new pass 1'), 200);
	assert.equal(await apiLogin(ALICE, S.alicePassword), 401);
	S.alicePassword = 'alice new pass 1';
	// The quota, in MiB.
	const quota = page.getByRole('form', { name: 'Quota of ' + ALICE });
	await quota.getByLabel('Quota').fill('20');
	await quota.getByRole('button', { name: 'Save quota' }).click();
	await status(page, 'Quota of ' + ALICE + ' set to 20 MiB');
	assert.equal((await apiJSON('GET', '/api/v1/mailboxes/' + ALICE))
	    .body.quota, 20 * 1024 * 1024);
	await checkLabels(page);
});

test('disabling, enabling and deleting ask and show the result',
    async () => {
	const { page } = S.admin;
	const bob = 'bob@' + DOMAIN;
	await page.goto('/panel/domains/' + DOMAIN);
	const row = page.getByRole('table', { name: 'Mailboxes of ' + DOMAIN })
	    .locator('tbody tr').filter({ hasText: bob });
	await row.getByRole('button', { name: 'Disable ' + bob }).click();
	await status(page, 'Mailbox ' + bob + ' disabled');
	await row.getByText('disabled', { exact: true }).waitFor();
	assert.equal((await apiJSON('GET', '/api/v1/mailboxes/' + bob))
	    .body.enabled, false);
	await row.getByRole('button', { name: 'Enable ' + bob }).click();
	await status(page, 'Mailbox ' + bob + ' enabled');
	// Delete: cancel first, then confirm.
	await row.getByRole('button', { name: 'Delete ' + bob }).click();
	const dialog = page.getByRole('dialog', { name: 'Delete ' + bob +
	    '?' });
	await dialog.getByRole('button', { name: 'Cancel' }).click();
	await dialog.waitFor({ state: 'detached' });
	// The focus is back on the button that opened the dialog.
	await page.waitForFunction((name) => document.activeElement
	    .getAttribute('aria-label') === name, 'Delete ' + bob);
	assert.equal((await apiJSON('GET', '/api/v1/mailboxes/' + bob))
	    .status, 200);
	await row.getByRole('button', { name: 'Delete ' + bob }).click();
	await dialog.getByRole('button', { name: 'Delete mailbox' }).click();
	await status(page, 'Mailbox ' + bob + ' deleted');
	await row.waitFor({ state: 'detached' });
	assert.equal((await apiJSON('GET', '/api/v1/mailboxes/' + bob))
	    .status, 404);
	// A domain: disable and enable from the list.
	await page.goto('/panel/domains');
	const d = page.getByRole('table', { name: 'Domains' })
	    .locator('tbody tr').filter({ hasText: DOMAIN });
	await d.getByRole('button', { name: 'Disable ' + DOMAIN }).click();
	await status(page, 'Domain ' + DOMAIN + ' disabled');
	assert.equal((await apiJSON('GET', '/api/v1/domains/' + DOMAIN))
	    .body.enabled, false);
	await d.getByRole('button', { name: 'Enable ' + DOMAIN }).click();
	await status(page, 'Domain ' + DOMAIN + ' enabled');
	assert.equal((await apiJSON('GET', '/api/v1/domains/' + DOMAIN))
	    .body.enabled, true);
});

test('domain settings; a domain that is not empty is removed only when ' +
    'asked twice', async () => {
	const { page } = S.admin;
	const old = 'old.example';
	assert.equal((await apiJSON('POST', '/api/v1/domains', { name: old }))
	    .status, 201);
	assert.equal((await apiJSON('POST', '/api/v1/domains/' + old +
	    '/mailboxes', { local_part: 'x', password: 'x password 1' }))
	    .status, 201);
	await page.goto('/panel/domains/' + old);
	await page.getByText('Settings', { exact: true }).click();
	const form = page.getByRole('form', { name: 'Domain settings' });
	await form.getByLabel('Quota of new mailboxes').fill('-1');
	await form.getByRole('button', { name: 'Save settings' }).click();
	await form.getByText('a size in MiB').waitFor();
	await form.getByLabel('Quota of new mailboxes').fill('100');
	await form.getByLabel('Most mailboxes').fill('5');
	await form.getByRole('button', { name: 'Save settings' }).click();
	await status(page, 'Settings of ' + old + ' saved');
	const d = (await apiJSON('GET', '/api/v1/domains/' + old)).body;
	assert.equal(d.default_quota, 100 * 1024 * 1024);
	assert.equal(d.max_mailboxes, 5);
	await page.getByText('1 of at most 5').waitFor();
	await page.goto('/panel/domains');
	await page.getByRole('button', { name: 'Delete ' + old }).click();
	const dialog = page.getByRole('dialog');
	await dialog.getByRole('button', { name: 'Delete domain' }).click();
	await page.getByRole('dialog', { name: old + ' is not empty' })
	    .getByRole('button', { name: 'Delete everything' }).click();
	await status(page, 'Domain ' + old + ' deleted');
	assert.equal((await apiJSON('GET', '/api/v1/domains/' + old)).status,
	    404);
	await page.getByRole('table', { name: 'Domains' }).locator('tbody tr')
	    .filter({ hasText: old }).waitFor({ state: 'detached' });
	await checkLabels(page);
});

test('the queue lists a waiting message; retry and delete work',
    async () => {
	const { page } = S.admin;
	// An alias that forwards outside: the copy waits for the relay.
	assert.equal((await apiJSON('POST', '/api/v1/domains/' + DOMAIN +
	    '/aliases', { source: 'fwd', destinations:
	    ['someone@remote.example'] })).status, 201);
	execFileSync('swaks', ['--server', '127.0.0.1:' +
	    S.facteur.port('smtp'), '--from', 'sender@elsewhere.example',
	    '--to', 'fwd@' + DOMAIN, '--helo', 'client.example',
	    '--header', 'Subject: queued'], { timeout: 30000,
	    stdio: 'ignore' });
	let msgs = [];
	for (let i = 0; i < 100 && msgs.length === 0; i++) {
		msgs = (await apiJSON('GET', '/api/v1/queue')).body.messages;
		if (msgs.length === 0)
			await new Promise((r) => setTimeout(r, 100));
	}
	assert.equal(msgs.length, 1, 'one message queued');
	const id = msgs[0].id;
	await page.getByRole('navigation', { name: 'Main' })
	    .getByRole('link', { name: 'Queue' }).click();
	const row = page.getByRole('table', { name: 'Queued messages' })
	    .locator('tbody tr').filter({ hasText: id });
	await row.getByText('someone@remote.example').waitFor();
	await row.getByText('sender@elsewhere.example').waitFor();
	await row.getByRole('button', { name: 'Retry ' + id }).click();
	await status(page, 'will be tried again');
	await checkLabels(page);
	await shot(page, 'queue');
	await page.getByRole('button', { name: 'Delete ' + id }).click();
	await page.getByRole('dialog').getByRole('button',
	    { name: 'Delete message' }).click();
	await status(page, 'deleted from the queue');
	await page.getByText('The queue is empty').waitFor();
	assert.equal((await apiJSON('GET', '/api/v1/queue')).body.messages
	    .length, 0);
});

test('an API token\'s secret is shown once, works, and is revoked',
    async () => {
	const { page } = S.admin;
	await page.getByRole('navigation', { name: 'Main' })
	    .getByRole('link', { name: 'API tokens' }).click();
	const form = page.getByRole('form', { name: 'Create an API token' });
	await form.getByLabel('Name').fill('bad name');
	await form.getByRole('button', { name: 'Create token' }).click();
	await form.getByText('a token name has 1 to 64 letters').waitFor();
	await form.getByLabel('Name').fill('monitor');
	await form.getByLabel('Scope').selectOption('read');
	await form.getByLabel('Only these domains').fill(DOMAIN);
	await form.getByRole('button', { name: 'Create token' }).click();
	const secret = await page.locator('.secret-box code.secret')
	    .textContent();
	assert.match(secret, /^fct_/);
	const r = await request.newContext({ baseURL: S.facteur.base,
	    ignoreHTTPSErrors: true, extraHTTPHeaders: { Authorization:
	    'Bearer ' + secret } });
	try {
		assert.equal((await r.get('/api/v1/domains')).status(), 200);
		// Read only.
		assert.equal((await r.post('/api/v1/domains', { data:
		    { name: 'x.example' } })).status(), 403);
		const row = page.getByRole('table', { name: 'API tokens' })
		    .locator('tbody tr').filter({ hasText: 'monitor' });
		await row.getByText('read only').waitFor();
		await row.getByText(DOMAIN).waitFor();
		await checkLabels(page);
		await row.getByRole('button', { name: 'Revoke monitor' })
		    .click();
		await page.getByRole('dialog').getByRole('button',
		    { name: 'Revoke token' }).click();
		await status(page, 'Token monitor revoked');
		await row.getByText('revoked', { exact: true }).waitFor();
		assert.equal((await r.get('/api/v1/domains')).status(), 401);
	} finally {
		await r.dispose();
	}
});

test('admins: add one, set their password, remove them', async () => {
	const { page } = S.admin;
	await page.getByRole('navigation', { name: 'Main' })
	    .getByRole('link', { name: 'Admins' }).click();
	const form = page.getByRole('form', { name: 'Add an admin' });
	await form.getByLabel('Name').fill('carol');
	await form.getByRole('button', { name: 'Add admin' }).click();
	const first = await page.locator('.secret-box code.secret')
	    .textContent();
	assert.equal(await apiLogin('carol', first), 200);
	await page.getByRole('button', { name: 'Set the password of carol' })
	    .click();
	const pw = page.getByRole('form', { name: 'New password of carol' });
	await pw.getByLabel('Type a password').check();
	await pw.getByLabel('New password').fill('carol password 2');
	await pw.getByRole('button', { name: 'Set password' }).click();
	await status(page, 'Password of carol changed');
	assert.equal(await apiLogin('carol', 'carol password 2'), 200);
	await page.getByRole('button', { name: 'Remove carol' }).click();
	await page.getByRole('dialog').getByRole('button',
	    { name: 'Remove admin' }).click();
	await status(page, 'Admin carol removed');
	assert.equal(await apiLogin('carol', 'carol password 2'), 401);
	// No way to remove oneself here.
	assert.equal(await page.getByRole('button', { name: 'Remove ' + ADMIN })
	    .count(), 0);
	await checkLabels(page);
});

test('the audit log pages through its entries', async () => {
	const { page } = S.admin;
	// Enough changes for two pages of 50.
	for (let i = 0; i < 55; i++)
		assert.equal((await apiJSON('POST', '/api/v1/domains/' + DOMAIN +
		    '/aliases', { source: 'list' + i, destinations: [ALICE] }))
		    .status, 201);
	const total = async () => {
		let n = 0;
		let cursor = null;
		do {
			const doc = (await apiJSON('GET', '/api/v1/audit?limit=' +
			    '1000' + (cursor ? '&cursor=' + cursor : ''))).body;
			n += doc.entries.length;
			cursor = doc.next_cursor;
		} while (cursor);
		return n;
	};
	const n = await total();
	assert.ok(n > 55, n + ' entries');
	await page.getByRole('navigation', { name: 'Main' })
	    .getByRole('link', { name: 'Audit log' }).click();
	const rows = page.getByRole('table', { name: 'Audit log' })
	    .locator('tbody tr');
	await rows.first().waitFor();
	assert.equal(await rows.count(), 50);
	await rows.first().getByText('token:browser-tests').waitFor();
	const newer = page.getByRole('button', { name: '← Newer' });
	assert.ok(await newer.isDisabled());
	await page.getByRole('button', { name: 'Older →' }).click();
	await page.getByText('Page 2').waitFor();
	assert.equal(await rows.count(), Math.min(50, n - 50));
	assert.equal(await page.getByRole('button', { name: 'Older →' })
	    .isDisabled(), n <= 100);
	await newer.click();
	await page.getByText('Page 1').waitFor();
	assert.equal(await rows.count(), 50);
	await page.getByLabel('Who').fill('admin:' + ADMIN);
	await page.getByRole('button', { name: 'Filter' }).click();
	await page.waitForFunction(() => [...document.querySelectorAll(
	    'tbody th')].every((th) => th.textContent.startsWith('admin:')));
	await checkLabels(page);
	await shot(page, 'audit');
});

test('a mailbox user sees only their own page and changes their password',
    async () => {
	const { page, context } = await newPage();
	await signIn(page, DAVE, DAVE_PW);
	await page.getByRole('heading', { name: 'Mail settings for ' +
	    DAVE }).waitFor();
	assert.equal(new URL(page.url()).pathname, '/panel/mailboxes/' +
	    DAVE + '/setup');
	const nav = page.getByRole('navigation', { name: 'Main' });
	assert.deepEqual(await nav.getByRole('link').allTextContents(),
	    ['Mail settings', 'Password']);
	await page.locator('table[data-servers="incoming"]').waitFor();
	await checkLabels(page);
	await shot(page, 'mailbox-user');
	// The admin pages are not there, and the API refuses the rest.
	await page.goto('/panel/domains');
	await page.getByRole('heading', { name: 'Not available' }).waitFor();
	assert.equal(await page.getByRole('table').count(), 0);
	await page.goto('/panel/mailboxes/' + ALICE + '/setup');
	await page.getByText('no such mailbox').waitFor();
	const api = context.request;
	assert.equal((await api.get('/api/v1/domains')).status(), 403);
	assert.equal((await api.get('/api/v1/status')).status(), 403);
	assert.equal((await api.get('/api/v1/mailboxes/' + ALICE)).status(),
	    404);
	assert.equal((await api.get('/api/v1/mailboxes/' + ALICE +
	    '/client-setup')).status(), 404);
	assert.equal((await api.get('/api/v1/mailboxes/' + DAVE)).status(),
	    200);
	// Their own password.
	await nav.getByRole('link', { name: 'Password' }).click();
	const form = page.getByRole('form', { name: 'Change your password' });
	await form.getByLabel('Current password').fill('wrong password');
	await form.getByLabel('New password', { exact: true })
	    .fill('dave new password');
	await form.getByLabel('New password again').fill('dave new pass');
	await form.getByRole('button', { name: 'Change password' }).click();
	await form.getByText('the two new passwords differ').waitFor();
	await form.getByLabel('New password again').fill('dave new password');
	await form.getByRole('button', { name: 'Change password' }).click();
	// Answered after the failure delay, which grows with the failures
	// from this address (up to 8 s).
	await form.getByText('wrong password').waitFor({ timeout: 20000 });
	await form.getByLabel('Current password').fill(DAVE_PW);
	await form.getByRole('button', { name: 'Change password' }).click();
	await status(page, 'Your password is changed');
	assert.equal(await apiLogin(DAVE, 'dave new password'), 200);
	assert.equal(await apiLogin(DAVE, DAVE_PW), 401);
	await checkLabels(page);
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByRole('heading', { name: 'Sign in to Facteur' })
	    .waitFor();
	await context.close();
});

test('on a phone the menu folds and nothing scrolls sideways', async () => {
	const { page, context } = await newPage({ viewport: { width: 390,
	    height: 844 }, isMobile: true, hasTouch: true });
	await signIn(page, ADMIN, ADMIN_PW);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await noHorizontalScroll(page);
	const menu = page.getByRole('button', { name: 'Menu' });
	const domains = page.getByRole('navigation', { name: 'Main' })
	    .getByRole('link', { name: 'Domains' });
	assert.ok(!await domains.isVisible());
	assert.equal(await menu.getAttribute('aria-expanded'), 'false');
	await menu.click();
	assert.equal(await menu.getAttribute('aria-expanded'), 'true');
	await domains.click();
	await page.getByRole('heading', { name: 'Domains', level: 1 })
	    .waitFor();
	assert.ok(!await domains.isVisible(), 'the menu closes');
	await noHorizontalScroll(page);
	await page.goto('/panel/domains/' + DOMAIN);
	await page.getByRole('table', { name: 'Mailboxes of ' + DOMAIN })
	    .waitFor();
	await page.locator('[data-usage] .usage').first().waitFor();
	await noHorizontalScroll(page);
	await shot(page, 'phone-mailboxes', true);
	for (const p of ['/panel/domains/' + DOMAIN + '/dns',
	    '/panel/mailboxes/' + ALICE + '/setup', '/panel/audit']) {
		await page.goto(p);
		await page.locator('table').first().waitFor();
		await noHorizontalScroll(page);
	}
	await shot(page, 'phone-audit');
	await context.close();
});

test('the Content-Security-Policy stops inline script', async () => {
	const { page } = S.admin;
	await page.goto('/panel/');
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	const ran = await page.evaluate(() => {
		const s = document.createElement('script');
		s.textContent = 'window.__inline = 1';
		document.body.appendChild(s);
		return window.__inline;
	});
	assert.equal(ran, undefined);
	await page.waitForTimeout(100);
	const csp = S.problems.filter((p) => p.includes('CSP violation: ' +
	    'script-src'));
	assert.ok(csp.length >= 1, 'the violation was reported');
	S.problems = S.problems.filter((p) => !p.includes('script-src') &&
	    !p.includes('Content Security Policy'));
});

test('signing out ends the session', async () => {
	const { page, context } = S.admin;
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByRole('heading', { name: 'Sign in to Facteur' })
	    .waitFor();
	await status(page, 'You are signed out');
	assert.equal((await context.request.get('/api/v1/session')).status(),
	    401);
	// Back to a panel page: the sign-in form, not the page.
	await page.goto('/panel/domains');
	await page.getByRole('heading', { name: 'Sign in to Facteur' })
	    .waitFor();
});
