// One domain: its summary and settings, and tabs for its mailboxes, its
// aliases and the DNS records to publish.
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { panelPath } from '../paths.js';
import { page, loading, failure, badge, Form, notify } from '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';
import * as mailboxes from './mailboxes.js';
import * as aliases from './aliases.js';
import * as dns from './dns.js';

const TABS = [
	['mailboxes', 'Mailboxes', ''],
	['aliases', 'Aliases', 'aliases'],
	['dns', 'DNS records', 'dns'],
];

function tabs(name, active) {
	return h('nav', { class: 'tabs', 'aria-label': 'Domain sections' },
	    h('ul', {}, TABS.map(([id, label, sub]) => h('li', {},
	    h('a', { href: sub ? panelPath('domains', name, sub) :
	    panelPath('domains', name), 'aria-current': id === active ?
	    'page' : null }, label)))));
}

function settings(d, onChange) {
	const f = new Form({
		submit: 'Save settings',
		label: 'Domain settings',
		cls: 'inline',
		aliases: { default_quota: 'default_quota',
		    max_mailboxes: 'max_mailboxes' },
		onSubmit: async (form) => {
			const body = {};
			const dq = form.value('default_quota');
			const mm = form.value('max_mailboxes');
			body.default_quota = dq === '' ? 0 :
			    Math.round(Number(dq) * fmt.MIB);
			body.max_mailboxes = mm === '' ? 0 : Number(mm);
			const nd = await api.patch('/api/v1/domains/' +
			    seg(d.name), body);
			notify('Settings of ' + d.name + ' saved.');
			onChange(nd);
		},
	});
	f.add('default_quota', { label: 'Quota of new mailboxes',
	    suffix: 'MiB', inputmode: 'decimal', size: '8', narrow: true,
	    value: d.default_quota ? String(d.default_quota / fmt.MIB) : '0',
	    hint: '0: unlimited', check: valid.mebibytes });
	f.add('max_mailboxes', { label: 'Most mailboxes', inputmode: 'numeric',
	    size: '6', narrow: true, value: String(d.max_mailboxes), hint: '0: no limit',
	    check: (v) => valid.count(v) });
	return f.el;
}

function summary(box, d) {
	const item = (k, v) => h('div', {}, h('dt', {}, k), h('dd', {}, v));
	replace(box,
	    h('dl', { class: 'summary' },
	    item('State', badge(d.enabled)),
	    item('Mailboxes', String(d.mailboxes) + (d.max_mailboxes ?
	    ' of at most ' + d.max_mailboxes : '')),
	    item('Aliases', String(d.aliases)),
	    item('Storage used', fmt.bytes(d.storage_used)),
	    item('Quota of new mailboxes', fmt.quota(d.default_quota)),
	    item('Added', fmt.date(d.created))),
	    h('details', { class: 'settings' },
	    h('summary', {}, 'Settings'),
	    settings(d, (nd) => summary(box, Object.assign({}, d, nd)))));
}

export function render(ctx) {
	const name = ctx.params[0];
	const head = h('div', {}, loading());
	const body = h('div');
	const el = page(name, head, tabs(name, ctx.tab), body);
	const refresh = () => api.get('/api/v1/domains/' + seg(name))
	    .then((d) => summary(head, d), (e) => replace(head, failure(e)));
	refresh();
	const sub = { mailboxes, aliases, dns }[ctx.tab];
	replace(body, sub.render(Object.assign({}, ctx, { domain: name,
	    refresh })));
	return el;
}
