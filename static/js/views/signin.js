// Sign in: an admin with its name, a mailbox user with its address and
// mail password (POST /api/v1/session).
import { h } from '../dom.js';
import { api } from '../api.js';
import { Form } from '../ui.js';

export function render({ onSignedIn }) {
	document.title = 'Sign in · Facteur';
	const form = new Form({
		submit: 'Sign in',
		label: 'Sign in',
		aliases: { username: 'username', password: 'password' },
		onSubmit: async (f) => {
			const doc = await api.post('/api/v1/session', {
				username: f.value('username'),
				password: f.raw('password'),
			}, { noAuthHandler: true });
			onSignedIn(doc);
		},
	});
	form.add('username', { label: 'Admin name or mail address',
	    autocomplete: 'username', required: true,
	    check: (v) => v === '' ? 'enter your admin name or your mail ' +
	    'address' : null });
	form.add('password', { label: 'Password', type: 'password',
	    autocomplete: 'current-password', required: true,
	    check: (v) => v === '' ? 'enter your password' : null });
	const el = h('section', { class: 'page signin' },
	    h('h1', { tabindex: '-1' }, 'Sign in to Facteur'),
	    h('p', { class: 'muted' }, 'Administrators sign in with their ' +
	    'admin name. Mailbox users sign in with their mail address and ' +
	    'mail password to see their mail settings and change their ' +
	    'password.'),
	    form.el);
	// The first field, once the page is in place.
	setTimeout(() => form.fields.username.input.focus(), 0);
	return el;
}
