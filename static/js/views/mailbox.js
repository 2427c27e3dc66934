// One mailbox, for admins: storage against quota, state, password,
// quota, removal, and a link to its client setup page.
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { panelPath } from '../paths.js';
import { page, card, loading, failure, badge, Form, notify, actionButton,
    usage, passwordChoice, secretBox } from '../ui.js';
import * as valid from '../validate.js';
import * as fmt from '../format.js';
import { setEnabled, remove } from './mailboxes.js';

function passwordForm(m) {
	const shown = h('div');
	const f = new Form({
		submit: 'Change password',
		label: 'Change the password of ' + m.address,
		onSubmit: async () => {
			const password = pw.password();
			const generated = pw.generated();
			await api.patch('/api/v1/mailboxes/' + seg(m.address),
			    { password });
			f.reset();
			pw.reset();
			replace(shown, generated ? secretBox('New password of ' +
			    m.address, password, 'Give it to the mailbox\'s ' +
			    'user now: it is not shown again.') : null);
			notify('Password of ' + m.address + ' changed. Mail ' +
			    'clients need the new one.');
		},
	});
	const pw = passwordChoice(f, 'password');
	return [f.el, shown];
}

function quotaForm(m, onChange) {
	const f = new Form({
		submit: 'Save quota',
		label: 'Quota of ' + m.address,
		cls: 'inline',
		onSubmit: async (form) => {
			const nm = await api.patch('/api/v1/mailboxes/' +
			    seg(m.address), { quota: Math.round(Number(
			    form.value('quota')) * fmt.MIB) });
			notify('Quota of ' + m.address + ' set to ' +
			    fmt.quota(nm.quota) + '.');
			onChange();
		},
	});
	f.add('quota', { label: 'Quota', suffix: 'MiB', inputmode: 'decimal',
	    size: '8', narrow: true, value: String(m.quota / fmt.MIB), hint: '0: unlimited',
	    check: (v) => v === '' ? 'a size in MiB: a number, 0 for ' +
	    'unlimited' : valid.mebibytes(v) });
	return f.el;
}

function show(root, m, ctx, reload) {
	const domain = m.domain;
	replace(root,
	    h('p', { class: 'crumbs' }, h('a', { href: panelPath('domains',
	    domain) }, '← Mailboxes of ' + domain)),
	    h('div', { class: 'grid' },
	    card('Mailbox',
	    h('dl', { class: 'facts' },
	    h('dt', {}, 'State'), h('dd', {}, badge(m.enabled)),
	    h('dt', {}, 'Storage'), h('dd', {}, usage(m.storage_used,
	    m.quota)),
	    h('dt', {}, 'Quota'), h('dd', {}, fmt.quota(m.quota)),
	    h('dt', {}, 'Created'), h('dd', {}, fmt.datetime(m.created)),
	    h('dt', {}, 'Last sign-in'), h('dd', {},
	    fmt.datetime(m.last_login))),
	    h('div', { class: 'actions' },
	    h('a', { class: 'button primary', href: panelPath('mailboxes',
	    m.address, 'setup') }, 'Client setup instructions'),
	    actionButton(m.enabled ? 'Disable' : 'Enable', async () => {
		await setEnabled(m, !m.enabled);
		reload();
	    }, 'secondary'),
	    actionButton('Delete', async () => {
		if (await remove(m))
			ctx.go(panelPath('domains', domain));
	    }, 'danger'))),
	    card('Password', ...passwordForm(m)),
	    card('Quota', quotaForm(m, reload))));
}

export function render(ctx) {
	const address = ctx.params[0];
	const root = h('div', {}, loading());
	const reload = () => api.get('/api/v1/mailboxes/' + seg(address))
	    .then((m) => show(root, m, ctx, reload),
	    (e) => replace(root, failure(e)));
	reload();
	return page(address, root);
}
