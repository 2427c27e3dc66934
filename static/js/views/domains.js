// Domains: list (paginated, searchable), add, enable or disable, remove.
import { h, replace } from '../dom.js';
import { api, seg, query, ApiError } from '../api.js';
import { panelPath } from '../paths.js';
import { page, card, table, loading, failure, badge, Form, notify,
    actionButton, confirm, pager } from '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';

const LIMIT = 50;

export function render({ go }) {
	const listBox = h('div', {}, loading());
	let rows = [];
	let q = '';

	const pg = pager(async (cursor) => {
		const doc = await api.get('/api/v1/domains' + query({
		    limit: LIMIT, cursor, q }));
		rows = rows.concat(doc.domains);
		draw();
		return doc.next_cursor;
	});

	async function reload() {
		try {
			const doc = await api.get('/api/v1/domains' + query({
			    limit: LIMIT, q }));
			rows = doc.domains;
			pg.set(doc.next_cursor);
			draw();
		} catch (e) {
			replace(listBox, failure(e));
		}
	}

	async function setEnabled(d, enabled) {
		await api.patch('/api/v1/domains/' + seg(d.name), { enabled });
		notify('Domain ' + d.name + (enabled ? ' enabled.' :
		    ' disabled: its mail is refused.'));
		await reload();
	}

	async function remove(d) {
		if (!await confirm({ title: 'Delete ' + d.name + '?',
		    message: 'The domain is removed. Mail for it is refused ' +
		    'from now on.', confirm: 'Delete domain' }))
			return;
		try {
			await api.del('/api/v1/domains/' + seg(d.name));
		} catch (e) {
			if (!(e instanceof ApiError) || e.code !== 'not_empty')
				throw e;
			if (!await confirm({ title: d.name + ' is not empty',
			    message: 'It has ' + fmt.plural(d.mailboxes,
			    'mailbox', 'mailboxes') + ' and ' +
			    fmt.plural(d.aliases, 'alias', 'aliases') +
			    '. Delete them too? Their mail is moved aside ' +
			    '(deleted/ in the data directory), not erased.',
			    confirm: 'Delete everything' }))
				return;
			await api.del('/api/v1/domains/' + seg(d.name) +
			    '?force=true');
		}
		notify('Domain ' + d.name + ' deleted.');
		await reload();
	}

	function draw() {
		replace(listBox, table({
			caption: 'Domains',
			rows,
			empty: q ? 'No domain matches “' + q + '”.' :
			    'No domain yet: add the first one above.',
			columns: [
				{ label: 'Domain', header: true, cell: (d) =>
				    h('a', { href: panelPath('domains', d.name) },
				    d.name) },
				{ label: 'State', cell: (d) => badge(d.enabled) },
				{ label: 'Mailboxes', cell: (d) =>
				    String(d.mailboxes) },
				{ label: 'Aliases', cell: (d) => String(d.aliases) },
				{ label: 'Actions', class: 'row-actions', cell: (d) => [
				    h('a', { class: 'button secondary small', href:
				    panelPath('domains', d.name, 'dns') },
				    'DNS records'),
				    actionButton(d.enabled ? 'Disable' : 'Enable',
				    () => setEnabled(d, !d.enabled), 'secondary small',
				    { 'aria-label': (d.enabled ? 'Disable ' :
				    'Enable ') + d.name }),
				    actionButton('Delete', () => remove(d),
				    'danger small', { 'aria-label': 'Delete ' +
				    d.name }),
				] },
			],
		}));
	}

	const add = new Form({
		submit: 'Add domain',
		label: 'Add a domain',
		cls: 'inline',
		onSubmit: async (f) => {
			const d = await api.post('/api/v1/domains',
			    { name: f.value('name') });
			f.reset();
			notify('Domain ' + d.name + ' added. Publish its DNS ' +
			    'records next.');
			go(panelPath('domains', d.name, 'dns'));
		},
	});
	add.add('name', { label: 'Domain name', placeholder: 'example.com',
	    check: valid.domain, required: true,
	    hint: 'Mail for this domain will be accepted here.' });

	const search = new Form({
		submit: 'Search',
		label: 'Search domains',
		cls: 'inline search',
		onSubmit: async (f) => {
			q = f.value('q');
			await reload();
		},
	});
	search.add('q', { label: 'Search', type: 'search',
	    placeholder: 'part of a name' });

	reload();
	return page('Domains',
	    card('Add a domain', add.el),
	    card('All domains', search.el, listBox, pg.el));
}
