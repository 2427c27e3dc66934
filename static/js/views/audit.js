// The audit log, newest first, a page at a time, filtered by actor or
// domain.
import { h, replace } from '../dom.js';
import { api, query } from '../api.js';
import { page, card, table, loading, failure, Form, notifyError } from
    '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';

const LIMIT = 50;

export function render() {
	const listBox = h('div', {}, loading());
	const newer = h('button', { type: 'button', class: 'secondary',
	    disabled: true }, '← Newer');
	const older = h('button', { type: 'button', class: 'secondary',
	    disabled: true }, 'Older →');
	const where = h('span', { class: 'muted', 'aria-live': 'polite' });
	// The cursors of the pages before this one; null for the first.
	const stack = [];
	let cursor = null;
	let next = null;
	let filter = {};

	async function load() {
		newer.disabled = older.disabled = true;
		try {
			const doc = await api.get('/api/v1/audit' + query(
			    Object.assign({ limit: LIMIT, cursor }, filter)));
			next = doc.next_cursor;
			draw(doc.entries);
			where.textContent = 'Page ' + (stack.length + 1);
		} catch (e) {
			replace(listBox, failure(e));
		} finally {
			newer.disabled = stack.length === 0;
			older.disabled = !next;
		}
	}

	older.addEventListener('click', () => {
		stack.push(cursor);
		cursor = next;
		load();
	});
	newer.addEventListener('click', () => {
		cursor = stack.pop() || null;
		load();
	});

	function draw(entries) {
		replace(listBox, table({
			caption: 'Audit log',
			rows: entries,
			empty: 'No entry.',
			columns: [
				{ label: 'Time', cell: (e) => fmt.datetime(e.time) },
				{ label: 'Who', header: true, cell: (e) => e.actor },
				{ label: 'From', cell: (e) => e.from },
				{ label: 'Action', cell: (e) => h('code', {},
				    e.action) },
				{ label: 'Target', cell: (e) => e.target },
				{ label: 'Details', cell: (e) => e.details },
			],
		}));
	}

	const f = new Form({
		submit: 'Filter',
		label: 'Filter the audit log',
		cls: 'inline',
		onSubmit: async (form) => {
			filter = { actor: form.value('actor'),
			    domain: form.value('domain') };
			stack.length = 0;
			cursor = null;
			await load();
		},
	});
	f.add('actor', { label: 'Who', placeholder: 'admin:NAME',
	    hint: 'admin:NAME, mailbox:ADDRESS, token:NAME or cli' });
	f.add('domain', { label: 'Domain', placeholder: 'example.com',
	    check: (v) => v === '' ? null : valid.domain(v) });

	load().catch((e) => notifyError(e));
	return page('Audit log',
	    card('Changes, newest first', f.el, listBox,
	    h('div', { class: 'pager' }, newer, ' ', where, ' ', older)));
}
