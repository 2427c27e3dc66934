// Admins: add, set another admin's password, remove (never the last).
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { page, card, table, loading, failure, Form, notify, actionButton,
    confirm, passwordChoice, secretBox } from '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';

export function render({ session }) {
	const listBox = h('div', {}, loading());
	const created = h('div', { class: 'created' });

	async function reload() {
		try {
			const doc = await api.get('/api/v1/admins');
			draw(doc.admins);
		} catch (e) {
			replace(listBox, failure(e));
		}
	}

	async function remove(a) {
		if (!await confirm({ title: 'Remove the admin ' + a.name + '?',
		    message: 'They can no longer sign in to the panel.',
		    confirm: 'Remove admin' }))
			return;
		await api.del('/api/v1/admins/' + seg(a.name));
		notify('Admin ' + a.name + ' removed.');
		await reload();
	}

	function passwordEditor(a, cell) {
		const f = new Form({
			submit: 'Set password',
			label: 'New password of ' + a.name,
			cls: 'inline',
			onSubmit: async () => {
				const password = pw.password();
				const generated = pw.generated();
				await api.put('/api/v1/admins/' + seg(a.name) +
				    '/password', { password });
				notify('Password of ' + a.name + ' changed; their ' +
				    'sessions ended.');
				replace(created, generated ? secretBox('New ' +
				    'password of ' + a.name, password, 'Give it to ' +
				    'them now: it is not shown again.') : null);
				await reload();
			},
		});
		const pw = passwordChoice(f, 'password', 'New password of ' +
		    a.name);
		f.actions.appendChild(h('button', { type: 'button',
		    class: 'secondary', onclick: () => reload() }, 'Cancel'));
		replace(cell, f.el);
		f.el.querySelector('input').focus();
	}

	function draw(admins) {
		replace(listBox, table({
			caption: 'Admins',
			rows: admins,
			columns: [
				{ label: 'Name', header: true, cell: (a) =>
				    a.name === session.user ? [a.name, ' ',
				    h('span', { class: 'badge info' }, 'you')] :
				    a.name },
				{ label: 'Added', cell: (a) =>
				    fmt.datetime(a.created) },
				{ label: 'Last sign-in', cell: (a) =>
				    fmt.datetime(a.last_login) },
				{ label: 'Actions', class: 'row-actions', cell: (a) =>
				    a.name === session.user ? h('a', {
				    href: '/panel/account' }, 'Change your ' +
				    'password') : [
				    h('button', { type: 'button',
				    class: 'secondary small', 'aria-label':
				    'Set the password of ' + a.name,
				    onclick: (e) => passwordEditor(a,
				    e.target.closest('td')) }, 'Set password'),
				    actionButton('Remove', () => remove(a),
				    'danger small', { 'aria-label': 'Remove ' +
				    a.name }),
				] },
			],
		}));
	}

	const add = new Form({
		submit: 'Add admin',
		label: 'Add an admin',
		cls: 'inline',
		onSubmit: async (f) => {
			const password = pw.password();
			const generated = pw.generated();
			const a = await api.post('/api/v1/admins',
			    { name: f.value('name'), password });
			f.reset();
			pw.reset();
			replace(created, generated ? secretBox('Password of ' +
			    a.name, password, 'Give it to them now: it is not ' +
			    'shown again. They can change it under Account.') :
			    null);
			notify('Admin ' + a.name + ' added.');
			await reload();
		},
	});
	add.add('name', { label: 'Name', required: true,
	    check: (v) => valid.name(v, 'admin'),
	    hint: 'What they sign in with: letters, digits, \'-\', \'_\', ' +
	    '\'.\'.' });
	const pw = passwordChoice(add, 'password');

	reload();
	return page('Admins',
	    card('Add an admin', add.el),
	    card('Admins', created, listBox));
}
