// API tokens: create (the secret is shown once), list, revoke.
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { page, card, table, loading, failure, badge, Form, notify,
    actionButton, confirm, secretBox } from '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';

function domainList(s) {
	return s.split(/[\s,;]+/).filter((x) => x !== '');
}

export function render() {
	const listBox = h('div', {}, loading());
	const created = h('div', { class: 'created' });

	async function reload() {
		try {
			const doc = await api.get('/api/v1/tokens');
			draw(doc.tokens);
		} catch (e) {
			replace(listBox, failure(e));
		}
	}

	async function revoke(t) {
		if (!await confirm({ title: 'Revoke the token ' + t.name + '?',
		    message: 'Programs that use it are refused from now on.',
		    confirm: 'Revoke token' }))
			return;
		await api.del('/api/v1/tokens/' + seg(t.name));
		notify('Token ' + t.name + ' revoked.');
		await reload();
	}

	function draw(tokens) {
		replace(listBox, table({
			caption: 'API tokens',
			rows: tokens,
			empty: 'No token yet.',
			rowClass: (t) => t.revoked ? 'revoked' : null,
			columns: [
				{ label: 'Name', header: true, cell: (t) => t.name },
				{ label: 'Scope', cell: (t) => t.scope === 'read' ?
				    'read only' : 'read and write' },
				{ label: 'Domains', cell: (t) => t.domains ?
				    t.domains.join(', ') || 'none left' : 'all' },
				{ label: 'State', cell: (t) => badge(!t.revoked &&
				    !(t.expires && t.expires * 1000 < Date.now()),
				    'active', t.revoked ? 'revoked' : 'expired') },
				{ label: 'Created', cell: (t) =>
				    fmt.datetime(t.created) },
				{ label: 'Expires', cell: (t) => t.expires ?
				    fmt.datetime(t.expires) : 'never' },
				{ label: 'Last used', cell: (t) =>
				    fmt.datetime(t.last_used) },
				{ label: 'Actions', class: 'row-actions', cell: (t) =>
				    t.revoked ? '' : actionButton('Revoke',
				    () => revoke(t), 'danger small',
				    { 'aria-label': 'Revoke ' + t.name }) },
			],
		}));
	}

	const add = new Form({
		submit: 'Create token',
		label: 'Create an API token',
		cls: 'inline',
		onSubmit: async (f) => {
			const body = { name: f.value('name'),
			    scope: f.value('scope') };
			const days = f.value('expires_days');
			if (days !== '' && days !== '0')
				body.expires_days = Number(days);
			const doms = domainList(f.value('domains'));
			if (doms.length)
				body.domains = doms;
			const t = await api.post('/api/v1/tokens', body);
			f.reset();
			replace(created, secretBox('Secret of the token ' + t.name,
			    t.secret, 'Copy it now: it is shown only once (only ' +
			    'its digest is kept). Send it as "Authorization: ' +
			    'Bearer SECRET".'));
			notify('Token ' + t.name + ' created.');
			await reload();
		},
	});
	add.add('name', { label: 'Name', placeholder: 'billing-system',
	    required: true, check: (v) => valid.name(v, 'token'),
	    hint: 'Letters, digits, \'-\', \'_\', \'.\'; shown in the audit ' +
	    'log.' });
	add.add('scope', { label: 'Scope', type: 'select', value: 'write',
	    options: [['write', 'Read and write'], ['read', 'Read only']] });
	add.add('expires_days', { label: 'Expires after', suffix: 'days',
	    inputmode: 'numeric', size: '6', narrow: true, hint: 'Empty: never.',
	    check: (v) => valid.count(v, 36500) });
	add.add('domains', { label: 'Only these domains', wide: true,
	    hint: 'Empty: all domains. Several: separated by commas.',
	    check: (v) => {
		const list = domainList(v);
		if (list.length > 16)
			return 'at most 16 domains';
		for (const d of list) {
			const e = valid.domain(d);
			if (e)
				return d + ': ' + e;
		}
		return null;
	    } });

	reload();
	return page('API tokens',
	    card('Create a token',
	    h('p', { class: 'muted' }, 'Tokens let programs (a hosting ' +
	    'control panel, a script) use the JSON API.'), add.el, created),
	    card('Tokens', listBox));
}
