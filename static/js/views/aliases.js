// A domain's aliases and its catch-all: add, change the destinations,
// remove.
import { h, replace } from '../dom.js';
import { api, seg, query } from '../api.js';
import { card, table, loading, failure, Form, notify, actionButton,
    confirm, pager } from '../ui.js';
import * as valid from '../validate.js';

const LIMIT = 100;

// "a@x, b@y" or one per line to a list.
function destinations(s) {
	return s.split(/[\s,;]+/).filter((x) => x !== '');
}

function checkDestinations(s) {
	const list = destinations(s);
	if (list.length === 0)
		return 'give at least one destination address';
	if (list.length > 64)
		return 'at most 64 destination addresses';
	for (const a of list) {
		const e = valid.address(a);
		if (e)
			return a + ': ' + e;
	}
	return null;
}

function isCatchAll(a) {
	return a.source.startsWith('@');
}

export function render({ domain, refresh }) {
	const listBox = h('div', {}, loading());
	let rows = [];

	const pg = pager(async (cursor) => {
		const doc = await api.get('/api/v1/domains/' + seg(domain) +
		    '/aliases' + query({ limit: LIMIT, cursor }));
		rows = rows.concat(doc.aliases);
		draw();
		return doc.next_cursor;
	});

	async function reload() {
		try {
			const doc = await api.get('/api/v1/domains/' +
			    seg(domain) + '/aliases' + query({ limit: LIMIT }));
			rows = doc.aliases;
			pg.set(doc.next_cursor);
			draw();
		} catch (e) {
			replace(listBox, failure(e));
		}
	}

	function editor(a, cell) {
		const f = new Form({
			submit: 'Save',
			label: 'Edit ' + a.source,
			cls: 'inline',
			onSubmit: async (form) => {
				await api.put('/api/v1/aliases/' + seg(a.source),
				    { destinations: destinations(form.value(
				    'destinations')) });
				notify('Alias ' + a.source + ' saved.');
				await reload();
			},
		});
		f.add('destinations', { label: 'Destinations of ' + a.source,
		    type: 'textarea', value: a.destinations.join('\n'),
		    rows: String(Math.min(6, a.destinations.length + 1)),
		    check: checkDestinations, hint: 'One address per line.' });
		f.actions.appendChild(h('button', { type: 'button',
		    class: 'secondary', onclick: () => draw() }, 'Cancel'));
		replace(cell, f.el);
		f.fields.destinations.input.focus();
	}

	async function remove(a) {
		if (!await confirm({ title: 'Delete ' + (isCatchAll(a) ?
		    'the catch-all of ' + domain : a.source) + '?',
		    message: isCatchAll(a) ? 'Mail to addresses of ' + domain +
		    ' that have no mailbox or alias will be refused.' :
		    'Mail to ' + a.source + ' will be refused unless a ' +
		    'mailbox or the catch-all takes it.',
		    confirm: 'Delete' }))
			return;
		await api.del('/api/v1/aliases/' + seg(a.source));
		notify((isCatchAll(a) ? 'Catch-all' : 'Alias ' + a.source) +
		    ' deleted.');
		await reload();
		refresh();
	}

	function draw() {
		replace(listBox, table({
			caption: 'Aliases of ' + domain,
			rows,
			empty: 'No alias yet: add one below.',
			columns: [
				{ label: 'Source', header: true, cell: (a) =>
				    isCatchAll(a) ? [a.source, ' ',
				    h('span', { class: 'badge info' }, 'catch-all')] :
				    a.source },
				{ label: 'Delivers to', cell: (a) => h('ul',
				    { class: 'plain' }, a.destinations.map((d) =>
				    h('li', {}, d))) },
				{ label: 'Actions', class: 'row-actions', cell: (a) => [
				    h('button', { type: 'button',
				    class: 'secondary small', 'aria-label': 'Edit ' +
				    a.source, onclick: (e) => editor(a,
				    e.target.closest('tr').children[1]) }, 'Edit'),
				    actionButton('Delete', () => remove(a),
				    'danger small', { 'aria-label': 'Delete ' +
				    a.source }),
				] },
			],
		}));
	}

	const add = new Form({
		submit: 'Add alias',
		label: 'Add an alias',
		onSubmit: async (f) => {
			const catchAll = f.value('catchall');
			const a = await api.post('/api/v1/domains/' +
			    seg(domain) + '/aliases', {
				source: catchAll ? '@' : f.value('source'),
				destinations: destinations(f.value(
				    'destinations')),
			});
			f.reset();
			source.disabled = false;
			notify((isCatchAll(a) ? 'Catch-all of ' + domain :
			    'Alias ' + a.source) + ' added.');
			await reload();
			refresh();
		},
	});
	const source = add.add('source', { label: 'Address',
	    suffix: '@' + domain, placeholder: 'info',
	    check: valid.localPart });
	const all = add.add('catchall', { type: 'checkbox',
	    label: 'Catch-all: every address of ' + domain +
	    ' without a mailbox or alias' });
	all.addEventListener('change', () => {
		source.disabled = all.checked;
	});
	add.add('destinations', { label: 'Delivers to', type: 'textarea',
	    check: checkDestinations, wide: true,
	    hint: 'One or more addresses, here or elsewhere, one per line.' });

	reload();
	return h('div', {},
	    card('Aliases', listBox, pg.el),
	    card('Add an alias', add.el));
}
