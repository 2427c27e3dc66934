// One's own password, for admins and mailbox users alike
// (PUT /api/v1/self/password, which checks the current one).
import { h } from '../dom.js';
import { api } from '../api.js';
import { page, card, Form, notify } from '../ui.js';
import * as valid from '../validate.js';

export function render({ session }) {
	const mailbox = session.role === 'mailbox';
	const f = new Form({
		submit: 'Change password',
		label: 'Change your password',
		aliases: { password: 'new_password' },
		onSubmit: async (form) => {
			await api.put('/api/v1/self/password', {
				current_password: form.raw('current_password'),
				new_password: form.raw('new_password'),
			});
			form.reset();
			notify('Your password is changed. Your other sessions ' +
			    'were signed out' + (mailbox ? '; enter the new ' +
			    'password in your mail programs too.' : '.'));
		},
	});
	// The browser may offer to remember the user name with the password.
	f.body.appendChild(h('input', { type: 'text', name: 'username',
	    autocomplete: 'username', value: session.user, hidden: true,
	    'aria-hidden': 'true', tabindex: '-1', readonly: '' }));
	f.add('current_password', { label: 'Current password',
	    type: 'password', autocomplete: 'current-password',
	    check: (v) => v === '' ? 'enter your current password' : null });
	f.add('new_password', { label: 'New password', type: 'password',
	    autocomplete: 'new-password', hint: 'At least 8 characters.',
	    check: valid.password });
	f.add('confirm_password', { label: 'New password again',
	    type: 'password', autocomplete: 'new-password',
	    check: (v, form) => v !== form.raw('new_password') ?
	    'the two new passwords differ' : null });
	return page(mailbox ? 'Your password' : 'Your account',
	    card('Change your password',
	    h('p', { class: 'muted' }, mailbox ? 'This is the password of ' +
	    'your mailbox ' + session.user + ': mail programs use it too.' :
	    'Signed in as the admin ' + session.user + '.'),
	    f.el));
}
