// The DNS records a domain publishes (GET /api/v1/domains/{d}/dns), each
// with a copy button, and the same as a zone file (?format=zone).
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { card, table, loading, failure, copyButton } from '../ui.js';

const PURPOSES = {
	mx: 'Mail for the domain is delivered to this server.',
	spf: 'SPF: only this server sends the domain\'s mail.',
	dkim: 'DKIM: the key that checks the signatures of sent mail.',
	dmarc: 'DMARC: what receivers do with mail that fails SPF and DKIM.',
	autoconfig: 'Thunderbird and others find the settings by themselves.',
	autodiscover: 'Outlook finds the settings by itself.',
	srv: 'Mail clients find the servers (RFC 6186).',
};

// The record's data as a DNS provider's form wants it.
export function recordValue(r) {
	switch (r.type) {
	case 'MX':
		return r.priority + ' ' + r.target;
	case 'SRV':
		return r.priority + ' ' + r.weight + ' ' + r.port + ' ' +
		    r.target;
	case 'CNAME':
		return r.target;
	default:
		return r.value !== undefined ? r.value : (r.target || '');
	}
}

function show(root, doc, zone, domain) {
	const zoneText = h('pre', { class: 'zone', tabindex: '0',
	    'aria-label': 'Zone file of ' + domain }, zone);
	replace(root,
	    doc.warning ? h('p', { class: 'warn', role: 'note' },
	    doc.warning) : null,
	    card('Records to publish',
	    h('p', { class: 'muted' }, 'Add these records at the DNS ' +
	    'provider of ' + domain + '. Names end with a dot: they are ' +
	    'complete; some providers want only the part before ' +
	    domain + '.'),
	    table({
		caption: 'DNS records of ' + domain,
		rows: doc.records,
		columns: [
			{ label: 'Name', header: true, cell: (r) =>
			    h('code', {}, r.name) },
			{ label: 'Type', cell: (r) => r.type },
			{ label: 'TTL', cell: (r) => String(r.ttl) },
			{ label: 'Value', class: 'value', cell: (r) =>
			    h('code', { class: 'wrap' }, recordValue(r)) },
			{ label: 'Why', class: 'why', cell: (r) =>
			    PURPOSES[r.purpose] || r.purpose },
			{ label: 'Copy', class: 'row-actions', cell: (r) =>
			    copyButton(recordValue(r), r.type + ' value of ' +
			    r.name) },
		],
	    })),
	    card('Zone file',
	    h('p', { class: 'muted' }, 'The same records in zone-file ' +
	    'syntax, for BIND, NSD, Knot or a provider\'s import.'),
	    zoneText,
	    h('div', { class: 'actions' },
	    copyButton(zone, 'Zone file', 'Copy zone file'),
	    h('a', { class: 'button secondary', href: '/api/v1/domains/' +
	    seg(domain) + '/dns?format=zone', download: domain + '.zone' },
	    'Download zone file'))));
}

export function render({ domain }) {
	const root = h('div', {}, loading());
	const base = '/api/v1/domains/' + seg(domain) + '/dns';
	Promise.all([api.get(base), api.get(base + '?format=zone')])
	    .then(([doc, zone]) => show(root, doc, zone, domain),
	    (e) => replace(root, failure(e)));
	return root;
}
