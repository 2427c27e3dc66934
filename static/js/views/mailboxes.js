// A domain's mailboxes: add (generated or typed password, quota), list
// with storage against quota, enable or disable, remove.
import { h, replace } from '../dom.js';
import { api, seg, query } from '../api.js';
import { panelPath } from '../paths.js';
import { card, table, loading, failure, badge, Form, notify, actionButton,
    confirm, pager, usage, passwordChoice, secretBox } from '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';

const LIMIT = 50;
// Storage is read per mailbox (GET /api/v1/mailboxes/{address}), a few
// at a time.
const PARALLEL = 4;

export async function setEnabled(m, enabled) {
	await api.patch('/api/v1/mailboxes/' + seg(m.address), { enabled });
	notify('Mailbox ' + m.address + (enabled ? ' enabled.' :
	    ' disabled: it can no longer sign in or receive mail.'));
}

export async function remove(m) {
	if (!await confirm({ title: 'Delete ' + m.address + '?',
	    message: 'The mailbox is removed and can no longer sign in. Its ' +
	    'mail is moved aside (deleted/ in the data directory), not ' +
	    'erased at once.', confirm: 'Delete mailbox' }))
		return false;
	await api.del('/api/v1/mailboxes/' + seg(m.address));
	notify('Mailbox ' + m.address + ' deleted.');
	return true;
}

export function render({ domain, refresh }) {
	const listBox = h('div', {}, loading());
	const created = h('div', { class: 'created' });
	let rows = [];
	let q = '';
	const used = new Map();

	async function fetchUsage(list) {
		const todo = list.filter((m) => !used.has(m.address));
		const next = async () => {
			const m = todo.shift();
			if (!m)
				return;
			try {
				const doc = await api.get('/api/v1/mailboxes/' +
				    seg(m.address));
				used.set(m.address, doc.storage_used);
			} catch (e) {
				used.set(m.address, null);
			}
			const cell = listBox.querySelector('[data-usage="' +
			    CSS.escape(m.address) + '"]');
			if (cell)
				replace(cell, usage(used.get(m.address),
				    m.quota));
			await next();
		};
		await Promise.all(Array.from({ length: PARALLEL }, next));
	}

	const pg = pager(async (cursor) => {
		const doc = await api.get('/api/v1/domains/' + seg(domain) +
		    '/mailboxes' + query({ limit: LIMIT, cursor, q }));
		rows = rows.concat(doc.mailboxes);
		draw();
		fetchUsage(doc.mailboxes);
		return doc.next_cursor;
	});

	async function reload() {
		try {
			const doc = await api.get('/api/v1/domains/' +
			    seg(domain) + '/mailboxes' + query({ limit: LIMIT,
			    q }));
			rows = doc.mailboxes;
			pg.set(doc.next_cursor);
			draw();
			fetchUsage(rows);
		} catch (e) {
			replace(listBox, failure(e));
		}
	}

	function draw() {
		replace(listBox, table({
			caption: 'Mailboxes of ' + domain,
			rows,
			empty: q ? 'No mailbox matches “' + q + '”.' :
			    'No mailbox yet: add the first one below.',
			columns: [
				{ label: 'Address', header: true, cell: (m) =>
				    h('a', { href: panelPath('mailboxes',
				    m.address) }, m.address) },
				{ label: 'State', cell: (m) => badge(m.enabled) },
				{ label: 'Storage', cell: (m) => h('span',
				    { 'data-usage': m.address },
				    usage(used.has(m.address) ?
				    used.get(m.address) : undefined, m.quota)) },
				{ label: 'Last sign-in', cell: (m) =>
				    fmt.datetime(m.last_login) },
				{ label: 'Actions', class: 'row-actions', cell: (m) => [
				    h('a', { class: 'button secondary small',
				    href: panelPath('mailboxes', m.address, 'setup'),
				    'aria-label': 'Client setup of ' + m.address },
				    'Client setup'),
				    actionButton(m.enabled ? 'Disable' : 'Enable',
				    async () => {
					await setEnabled(m, !m.enabled);
					await reload();
				    }, 'secondary small', { 'aria-label':
				    (m.enabled ? 'Disable ' : 'Enable ') +
				    m.address }),
				    actionButton('Delete', async () => {
					if (await remove(m)) {
						used.delete(m.address);
						await reload();
						refresh();
					}
				    }, 'danger small', { 'aria-label': 'Delete ' +
				    m.address }),
				] },
			],
		}));
	}

	const add = new Form({
		submit: 'Add mailbox',
		label: 'Add a mailbox',
		cls: 'inline',
		aliases: { address: 'local_part' },
		onSubmit: async (f) => {
			const password = pw.password();
			const body = { local_part: f.value('local_part'),
			    password };
			const quota = f.value('quota');
			if (quota !== '')
				body.quota = Math.round(Number(quota) * fmt.MIB);
			const m = await api.post('/api/v1/domains/' +
			    seg(domain) + '/mailboxes', body);
			const generated = pw.generated();
			f.reset();
			pw.reset();
			replace(created, h('div', { class: 'notice' },
			    h('p', {}, 'Mailbox ', h('strong', {}, m.address),
			    ' created. ', h('a', { href: panelPath('mailboxes',
			    m.address, 'setup') }, 'Client setup instructions')),
			    generated ? secretBox('Password of ' + m.address,
			    password, 'Give it to the mailbox\'s user now: it ' +
			    'is not shown again.') : null));
			notify('Mailbox ' + m.address + ' created.');
			await reload();
			refresh();
		},
	});
	add.add('local_part', { label: 'Address', suffix: '@' + domain,
	    placeholder: 'name', required: true, check: valid.localPart });
	const pw = passwordChoice(add, 'password');
	add.add('quota', { label: 'Quota', suffix: 'MiB', inputmode: 'decimal',
	    size: '8', narrow: true, hint: 'Empty: the domain\'s default. 0: unlimited.',
	    check: valid.mebibytes });

	const search = new Form({
		submit: 'Search',
		label: 'Search mailboxes',
		cls: 'inline search',
		onSubmit: async (f) => {
			q = f.value('q');
			await reload();
		},
	});
	search.add('q', { label: 'Search', type: 'search',
	    placeholder: 'part of an address' });

	reload();
	return h('div', {},
	    card('Mailboxes', search.el, listBox, pg.el),
	    card('Add a mailbox', add.el, created));
}
