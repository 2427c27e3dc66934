// The dashboard: GET /api/v1/status.
import { h, replace } from '../dom.js';
import { api } from '../api.js';
import { panelPath } from '../paths.js';
import { page, card, table, loading, failure, badge } from '../ui.js';
import * as fmt from '../format.js';

const SERVICES = {
	smtp: 'SMTP (MX, from other servers)',
	submission: 'Submission',
	submissions: 'Submission',
	imap: 'IMAP',
	imaps: 'IMAP',
	pop3: 'POP3',
	pop3s: 'POP3',
	https: 'HTTPS (panel, API, autoconfig)',
	http: 'HTTP (autoconfig, redirect)',
};

function stat(label, value, href) {
	const v = h('span', { class: 'value' }, String(value));
	return h('div', { class: 'stat' },
	    href ? h('a', { href }, v, h('span', { class: 'label' }, label)) :
	    [v, h('span', { class: 'label' }, label)]);
}

function tlsMode(l) {
	if (l.name === 'http')
		return 'none';
	if (l.implicit_tls)
		return 'SSL/TLS';
	return l.name === 'https' ? 'TLS' : 'STARTTLS';
}

function certificate(c) {
	if (c.error)
		return card('Certificate', h('p', { class: 'warn' }, c.error));
	const days = c.days_left;
	let note;
	if (days < 0)
		note = h('p', { class: 'bad', role: 'alert' },
		    'The certificate has expired: mail clients will refuse ' +
		    'to connect. Replace it and reload Facteur (SIGHUP).');
	else if (days < 21)
		note = h('p', { class: 'warn' }, 'The certificate expires in ' +
		    fmt.plural(days, 'day') + '. Renew it soon.');
	return card('Certificate',
	    h('dl', { class: 'facts' },
	    h('dt', {}, 'Subject'), h('dd', {}, c.subject),
	    h('dt', {}, 'Issuer'), h('dd', {}, c.issuer),
	    h('dt', {}, 'Valid until'), h('dd', { 'data-test': 'cert-expiry' },
	    fmt.date(c.not_after) + ' (' + (days < 0 ? 'expired' :
	    fmt.plural(days, 'day') + ' left') + ')')), note);
}

function show(root, s) {
	const c = s.counts;
	replace(root,
	    h('div', { class: 'stats' },
	    stat('Domains', c.domains, panelPath('domains')),
	    stat('Mailboxes', c.mailboxes),
	    stat('Aliases', c.aliases),
	    stat('Storage used', s.storage_used !== undefined ?
	    fmt.bytes(s.storage_used) : '–'),
	    stat('Queued messages', c.queue_messages, panelPath('queue')),
	    stat('Queued recipients', c.queue_recipients,
	    panelPath('queue'))),
	    h('div', { class: 'grid' },
	    certificate(s.certificate),
	    card('Server',
	    h('dl', { class: 'facts' },
	    h('dt', {}, 'Host name'), h('dd', {}, s.hostname),
	    h('dt', {}, 'Version'), h('dd', {}, s.version),
	    h('dt', {}, 'Running for'), h('dd', {}, fmt.duration(s.uptime)),
	    h('dt', {}, 'Admins'), h('dd', {}, String(c.admins)),
	    h('dt', {}, 'API tokens'), h('dd', {}, String(c.tokens)),
	    h('dt', {}, 'Open sessions'), h('dd', {}, String(c.sessions))))),
	    card('Listeners', s.listeners ? table({
		caption: 'Listeners',
		rows: s.listeners,
		columns: [
			{ label: 'Service', header: true, cell: (l) =>
			    SERVICES[l.name] || l.name },
			{ label: 'Address', cell: (l) => l.address },
			{ label: 'Port', cell: (l) => String(l.port) },
			{ label: 'Public port', cell: (l) =>
			    String(l.public_port) },
			{ label: 'Encryption', cell: (l) => tlsMode(l) },
			{ label: 'State', cell: (l) => badge(l.enabled,
			    'on', 'off') },
		],
	    }) : h('p', { class: 'muted' }, 'Not reported by this server.')));
}

export function render() {
	const root = h('div', {}, loading());
	const el = page('Dashboard', root);
	api.get('/api/v1/status').then((s) => show(root, s),
	    (e) => replace(root, failure(e)));
	return el;
}
