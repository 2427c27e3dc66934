// The panel: the session, the navigation and the router. Pages live
// under /panel/ (the server answers index.html for all of them), so a
// page can be reloaded, bookmarked or printed by its address.
import { h, clear, replace } from './dom.js';
import { api, setCsrf, setUnauthorizedHandler } from './api.js';
import { clearMessages, notify, notifyError } from './ui.js';
import { panelPath } from './paths.js';
import * as signin from './views/signin.js';
import * as dashboard from './views/dashboard.js';
import * as domains from './views/domains.js';
import * as domain from './views/domain.js';
import * as mailbox from './views/mailbox.js';
import * as setup from './views/setup.js';
import * as queue from './views/queue.js';
import * as tokens from './views/tokens.js';
import * as admins from './views/admins.js';
import * as audit from './views/audit.js';
import * as account from './views/account.js';

const PREFIX = '/panel';

// [pattern, view, roles, extra context]
const ROUTES = [
	[/^\/?$/, dashboard, ['admin']],
	[/^\/domains\/?$/, domains, ['admin']],
	[/^\/domains\/([^/]+)\/?$/, domain, ['admin'], { tab: 'mailboxes' }],
	[/^\/domains\/([^/]+)\/aliases\/?$/, domain, ['admin'],
	    { tab: 'aliases' }],
	[/^\/domains\/([^/]+)\/dns\/?$/, domain, ['admin'], { tab: 'dns' }],
	[/^\/mailboxes\/([^/]+)\/?$/, mailbox, ['admin']],
	[/^\/mailboxes\/([^/]+)\/setup\/?$/, setup, ['admin', 'mailbox']],
	[/^\/queue\/?$/, queue, ['admin']],
	[/^\/tokens\/?$/, tokens, ['admin']],
	[/^\/admins\/?$/, admins, ['admin']],
	[/^\/audit\/?$/, audit, ['admin']],
	[/^\/account\/?$/, account, ['admin', 'mailbox']],
];

const state = { session: null, first: true };

function navItems() {
	const s = state.session;
	if (!s)
		return [];
	if (s.role === 'mailbox')
		return [
			['Mail settings', panelPath('mailboxes', s.user, 'setup')],
			['Password', panelPath('account')],
		];
	return [
		['Dashboard', panelPath()],
		['Domains', panelPath('domains')],
		['Queue', panelPath('queue')],
		['API tokens', panelPath('tokens')],
		['Admins', panelPath('admins')],
		['Audit log', panelPath('audit')],
		['Account', panelPath('account')],
	];
}

// The nav entry a page belongs to: its own, or Domains for a mailbox's
// pages.
function current(path, href) {
	if (href === PREFIX + '/')
		return path === PREFIX + '/' || path === PREFIX;
	if (href === PREFIX + '/domains' && path.startsWith(PREFIX +
	    '/mailboxes/'))
		return true;
	return path === href || path.startsWith(href + '/');
}

function renderNav() {
	const nav = document.getElementById('nav');
	const who = document.getElementById('who');
	const toggle = document.getElementById('menu-toggle');
	const s = state.session;
	const path = location.pathname;
	clear(nav);
	clear(who);
	nav.hidden = !s;
	toggle.hidden = !s;
	if (!s)
		return;
	const ul = h('ul');
	for (const [label, href] of navItems())
		ul.appendChild(h('li', {}, h('a', { href, 'aria-current':
		    current(path, href) ? 'page' : null }, label)));
	nav.appendChild(ul);
	replace(who, h('span', { class: 'user' },
	    h('span', { class: 'sr-only' }, 'Signed in as '), s.user,
	    h('span', { class: 'role' }, s.role === 'admin' ? ' (admin)' :
	    '')),
	    h('button', { type: 'button', class: 'secondary small',
	    id: 'signout', onclick: signOut }, 'Sign out'));
}

function closeMenu() {
	const toggle = document.getElementById('menu-toggle');
	toggle.setAttribute('aria-expanded', 'false');
	document.body.classList.remove('menu-open');
}

export function go(path, opts) {
	const o = opts || {};
	if (o.replace)
		history.replaceState(null, '', path);
	else if (path !== location.pathname + location.search)
		history.pushState(null, '', path);
	route({ focus: o.focus !== false });
}

function notFound() {
	document.title = 'Not found · Facteur';
	return h('section', { class: 'page' },
	    h('h1', { tabindex: '-1' }, 'Page not found'),
	    h('p', {}, 'There is no such page in the panel. ',
	    h('a', { href: PREFIX + '/' }, 'Go to the start page'), '.'));
}

function forbidden() {
	document.title = 'Not available · Facteur';
	return h('section', { class: 'page' },
	    h('h1', { tabindex: '-1' }, 'Not available'),
	    h('p', {}, 'This page is for administrators. ',
	    h('a', { href: PREFIX + '/' }, 'Go to your mail settings'), '.'));
}

function decode(s) {
	try {
		return decodeURIComponent(s);
	} catch (e) {
		return null;
	}
}

function route(opts) {
	const o = opts || {};
	const main = document.getElementById('main');
	let path = location.pathname;
	closeMenu();
	if (path === '/' || path === '/index.html' || path === PREFIX) {
		history.replaceState(null, '', PREFIX + '/');
		path = PREFIX + '/';
	}
	if (!state.session) {
		renderNav();
		replace(main, signin.render({ onSignedIn }));
		finish(main, o);
		return;
	}
	const s = state.session;
	// A mailbox user's start page is its own setup page.
	if (s.role === 'mailbox' && path === PREFIX + '/') {
		history.replaceState(null, '', panelPath('mailboxes', s.user,
		    'setup'));
		path = location.pathname;
	}
	renderNav();
	const rest = path.startsWith(PREFIX) ? path.slice(PREFIX.length) :
	    null;
	let view = null;
	if (rest !== null) {
		for (const [re, mod, roles, extra] of ROUTES) {
			const m = re.exec(rest);
			if (!m)
				continue;
			const params = m.slice(1).map(decode);
			if (params.includes(null))
				break;
			if (!roles.includes(s.role)) {
				view = forbidden();
				break;
			}
			view = mod.render(Object.assign({ session: s, params,
			    go, query: new URLSearchParams(location.search) },
			    extra || {}));
			break;
		}
	}
	replace(main, view || notFound());
	finish(main, o);
}

function finish(main, o) {
	if (o.focus && !state.first) {
		const h1 = main.querySelector('h1');
		if (h1)
			h1.focus();
	}
	state.first = false;
}

function onSignedIn(doc) {
	state.session = { user: doc.user, role: doc.role };
	setCsrf(doc.csrf_token);
	clearMessages();
	route({ focus: true });
}

async function signOut() {
	try {
		await api.del('/api/v1/session');
	} catch (e) {
		if (e.status !== 401) {
			notifyError(e, 'Sign out');
			return;
		}
	}
	state.session = null;
	setCsrf(null);
	go(PREFIX + '/');
	notify('You are signed out.');
}

setUnauthorizedHandler(() => {
	if (!state.session)
		return;
	state.session = null;
	setCsrf(null);
	route({ focus: true });
	notifyError(new Error('your session ended; sign in again'),
	    'Signed out');
});

// Links inside the panel change the page without reloading it.
document.addEventListener('click', (e) => {
	if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey ||
	    e.shiftKey || e.altKey)
		return;
	const a = e.target.closest('a[href]');
	if (!a || a.target || a.hasAttribute('download'))
		return;
	const url = new URL(a.href, location.href);
	if (url.origin !== location.origin || !(url.pathname === PREFIX ||
	    url.pathname.startsWith(PREFIX + '/')))
		return;
	e.preventDefault();
	go(url.pathname + url.search);
});

window.addEventListener('popstate', () => route({ focus: true }));

document.getElementById('menu-toggle').addEventListener('click', (e) => {
	const open = e.currentTarget.getAttribute('aria-expanded') !== 'true';
	e.currentTarget.setAttribute('aria-expanded', String(open));
	document.body.classList.toggle('menu-open', open);
});

async function start() {
	try {
		const doc = await api.get('/api/v1/session',
		    { noAuthHandler: true });
		state.session = { user: doc.user, role: doc.role };
		setCsrf(doc.csrf_token);
	} catch (e) {
		state.session = null;
		if (e.status !== 401) {
			route();
			notifyError(e, 'The server');
			return;
		}
	}
	route();
}

start();
