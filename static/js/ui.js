// Pieces every view uses: messages, forms that show the API's errors,
// confirmation dialogs, copy buttons, tables, usage meters.
import { h, clear, replace, uid } from './dom.js';
import { ApiError } from './api.js';
import * as fmt from './format.js';
import * as valid from './validate.js';

// ---- messages (aria-live regions in index.html) ----

let noteTimer = null;

// The regions stay in the page (empty ones take no room), so that
// screen readers announce what is put in them.

// Success and information: announced politely, shown for a while.
export function notify(text) {
	const status = document.getElementById('status');
	clear(document.getElementById('alert'));
	status.textContent = text;
	clearTimeout(noteTimer);
	noteTimer = setTimeout(() => clear(status), 8000);
}

// Failures of actions that have no form of their own; they stay until
// dismissed or replaced.
export function notifyError(err, what) {
	const alert = document.getElementById('alert');
	clear(document.getElementById('status'));
	clearTimeout(noteTimer);
	const detail = err instanceof ApiError ? err.detail :
	    String(err && err.message ? err.message : err);
	replace(alert, h('span', {}, (what ? what + ': ' : '') + detail),
	    h('button', { type: 'button', class: 'close',
	    'aria-label': 'Dismiss the message', onclick: () =>
	    clear(alert) }, '×'));
}

export function clearMessages() {
	clear(document.getElementById('status'));
	clear(document.getElementById('alert'));
}

// ---- page structure ----

// A view's root: its h1 gets the focus after navigation.
export function page(title, ...children) {
	document.title = title + ' · Facteur';
	return h('section', { class: 'page' },
	    h('h1', { tabindex: '-1' }, title), ...children);
}

export function card(title, ...children) {
	const id = uid('card');
	return h('section', { class: 'card', 'aria-labelledby': id },
	    h('h2', { id }, title), ...children);
}

export function badge(on, yes, no) {
	return h('span', { class: 'badge ' + (on ? 'on' : 'off') },
	    on ? (yes || 'enabled') : (no || 'disabled'));
}

export function loading() {
	return h('p', { class: 'loading', role: 'status' }, 'Loading…');
}

// Shown in place of a view whose data could not be read.
export function failure(err) {
	return h('div', { class: 'failure', role: 'alert' },
	    h('p', {}, err instanceof ApiError ? err.detail : String(err)));
}

// table({ caption, columns: [{ label, cell(row) }], rows, empty })
export function table({ caption, columns, rows, empty, rowClass }) {
	if (!rows || rows.length === 0)
		return h('p', { class: 'empty' }, empty || 'Nothing here yet.');
	const t = h('table', { class: 'list' });
	if (caption)
		t.appendChild(h('caption', { class: 'sr-only' }, caption));
	t.appendChild(h('thead', {}, h('tr', {}, columns.map((c) =>
	    h('th', { scope: 'col', class: c.class }, c.label)))));
	const body = h('tbody');
	for (const r of rows) {
		const tr = h('tr', { class: rowClass ? rowClass(r) : null });
		for (const c of columns) {
			const v = c.cell(r);
			tr.appendChild(h(c.header ? 'th' : 'td', {
			    'data-label': c.label, class: c.class,
			    scope: c.header ? 'row' : null }, v));
		}
		body.appendChild(tr);
	}
	t.appendChild(body);
	return h('div', { class: 'table-wrap' }, t);
}

// Storage used against a quota (0: unlimited), with a meter.
export function usage(used, quota) {
	if (used === null || used === undefined)
		return h('span', { class: 'muted' }, '…');
	if (!quota)
		return h('span', { class: 'usage' }, fmt.bytes(used) +
		    ' used, no quota');
	const pct = Math.min(100, Math.round(used * 100 / quota));
	return h('span', { class: 'usage' },
	    h('meter', { min: '0', max: String(quota),
	    value: String(Math.min(used, quota)), low: String(quota * 0.75),
	    high: String(quota * 0.9), optimum: '0',
	    'aria-label': 'Storage used' }),
	    h('span', {}, fmt.bytes(used) + ' of ' + fmt.bytes(quota) + ' (' +
	    pct + ' %)'));
}

// ---- buttons ----

export function button(label, onclick, cls, attrs) {
	return h('button', Object.assign({ type: 'button', class: cls ||
	    'secondary', onclick }, attrs || {}), label);
}

// Runs action with the button disabled; failures go to notifyError.
// The focus stays on the button, or on its successor when the list was
// drawn again (same label), or else goes to the page's heading.
export function actionButton(label, action, cls, attrs) {
	// aria-disabled, not disabled: the button keeps the focus (and a
	// dialog it opens gives the focus back to it).
	const b = button(label, async () => {
		if (b.getAttribute('aria-disabled') === 'true')
			return;
		const name = b.getAttribute('aria-label');
		b.setAttribute('aria-disabled', 'true');
		b.setAttribute('aria-busy', 'true');
		try {
			await action(b);
		} catch (e) {
			notifyError(e, label);
		} finally {
			b.removeAttribute('aria-disabled');
			b.removeAttribute('aria-busy');
			refocus(b, name);
		}
	}, cls, attrs);
	return b;
}

function refocus(b, name) {
	const active = document.activeElement;
	if (active && active !== document.body && active.isConnected)
		return;
	if (b.isConnected) {
		b.focus();
		return;
	}
	const main = document.getElementById('main');
	const same = name ? [...main.querySelectorAll('button[aria-label]')]
	    .find((x) => x.getAttribute('aria-label') === name) : null;
	const to = same || main.querySelector('h1');
	if (to)
		to.focus();
}

export async function copyText(text, what) {
	try {
		await navigator.clipboard.writeText(text);
		notify((what || 'Text') + ' copied to the clipboard.');
		return true;
	} catch (e) {
		notifyError(new Error('the browser did not allow copying: ' +
		    'select the text and copy it by hand'), 'Copy');
		return false;
	}
}

export function copyButton(getText, what, label) {
	return button(label || 'Copy', () => copyText(typeof getText ===
	    'function' ? getText() : getText, what), 'secondary small', {
	    'aria-label': 'Copy ' + (what || 'text') });
}

// ---- confirmation ----

// A modal dialog; resolves true when confirmed. Focus returns to the
// element that had it.
export function confirm({ title, message, confirm: label, danger }) {
	return new Promise((resolve) => {
		const back = document.activeElement;
		const tid = uid('dlg');
		const mid = uid('dlg');
		const no = h('button', { type: 'button', class: 'secondary' },
		    'Cancel');
		const yes = h('button', { type: 'button', class: danger ===
		    false ? 'primary' : 'danger' }, label || 'Delete');
		const dlg = h('dialog', { class: 'confirm',
		    'aria-labelledby': tid, 'aria-describedby': mid },
		    h('h2', { id: tid }, title),
		    h('p', { id: mid }, message),
		    h('div', { class: 'actions' }, no, yes));
		let answer = false;
		no.addEventListener('click', () => dlg.close());
		yes.addEventListener('click', () => {
			answer = true;
			dlg.close();
		});
		dlg.addEventListener('close', () => {
			dlg.remove();
			if (back && back.isConnected)
				back.focus();
			resolve(answer);
		});
		document.body.appendChild(dlg);
		dlg.showModal();
		no.focus();
	});
}

// ---- passwords ----

// 20 characters from 54 that are not easily confused (no 0/O, 1/l/I):
// about 115 bits.
export function generatePassword() {
	const abc = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
	const out = [];
	const limit = 256 - (256 % abc.length);
	while (out.length < 20) {
		const buf = new Uint8Array(32);
		crypto.getRandomValues(buf);
		for (const b of buf)
			if (b < limit && out.length < 20)
				out.push(abc[b % abc.length]);
	}
	return [0, 5, 10, 15].map((i) => out.slice(i, i + 5).join(''))
	    .join('-');
}

// Shown once after a password was made here.
export function secretBox(title, secret, note) {
	const code = h('code', { class: 'secret' }, secret);
	return h('div', { class: 'secret-box', role: 'status' },
	    h('p', {}, h('strong', {}, title)),
	    h('p', {}, code, ' ', copyButton(secret, title)),
	    note ? h('p', { class: 'muted' }, note) : null);
}

// ---- forms ----

// A form that checks its fields (with the API's rules), shows the
// API's problem detail under the field it names (or above the buttons),
// and keeps its submit button disabled while the request runs.
export class Form {
	constructor({ submit, onSubmit, cls, label, aliases }) {
		this.fields = {};
		this.checks = {};
		this.aliases = aliases || {};
		this.onSubmit = onSubmit;
		this.errorBox = h('p', { class: 'form-error', role: 'alert',
		    tabindex: '-1', hidden: true });
		this.body = h('div', { class: 'fields' });
		this.submitButton = h('button', { type: 'submit',
		    class: 'primary' }, submit);
		this.actions = h('div', { class: 'actions' }, this.submitButton);
		this.el = h('form', { class: 'form ' + (cls || ''),
		    novalidate: true, 'aria-label': label || null },
		    this.body, this.errorBox, this.actions);
		this.el.addEventListener('submit', (e) => {
			e.preventDefault();
			this.run();
		});
	}

	// add(name, { label, type, value, hint, check, options, ... })
	add(name, o) {
		const id = uid('f-' + name);
		const hintId = id + '-hint';
		const errId = id + '-err';
		let input;
		if (o.type === 'select') {
			input = h('select', { id, name });
			for (const [v, l] of o.options)
				input.appendChild(h('option', { value: v,
				    selected: v === o.value }, l));
		} else if (o.type === 'textarea') {
			input = h('textarea', { id, name, rows: o.rows || '3',
			    spellcheck: 'false' });
			input.value = o.value || '';
		} else if (o.type === 'checkbox') {
			input = h('input', { id, name, type: 'checkbox',
			    checked: o.value });
		} else {
			input = h('input', { id, name, type: o.type || 'text',
			    value: o.value, autocomplete: o.autocomplete ||
			    'off', inputmode: o.inputmode, placeholder:
			    o.placeholder, spellcheck: 'false',
			    autocapitalize: 'none', size: o.size });
		}
		if (o.required)
			input.setAttribute('aria-required', 'true');
		const describedBy = [];
		const hint = o.hint ? h('p', { class: 'hint', id: hintId },
		    o.hint) : null;
		if (hint)
			describedBy.push(hintId);
		describedBy.push(errId);
		input.setAttribute('aria-describedby', describedBy.join(' '));
		const err = h('p', { class: 'field-error', id: errId,
		    hidden: true });
		const label = h('label', { for: id }, o.label);
		let wrap;
		if (o.type === 'checkbox') {
			wrap = h('div', { class: 'field check' }, input, label,
			    hint, err);
		} else {
			const control = o.prefix || o.suffix ? h('div',
			    { class: 'affix' }, o.prefix ? h('span',
			    { class: 'prefix', 'aria-hidden': 'true' },
			    o.prefix) : null, input, o.suffix ? h('span',
			    { class: 'suffix' }, o.suffix) : null) : input;
			wrap = h('div', { class: 'field' + (o.wide ? ' wide' :
			    '') + (o.narrow ? ' narrow' : '') }, label, control,
			    hint, err);
		}
		this.fields[name] = { input, err, wrap };
		if (o.check)
			this.checks[name] = o.check;
		(o.parent || this.body).appendChild(wrap);
		return input;
	}

	value(name) {
		const f = this.fields[name];
		if (!f)
			return undefined;
		if (f.input.type === 'checkbox')
			return f.input.checked;
		return f.input.value.trim();
	}

	// The raw value (passwords are not trimmed).
	raw(name) {
		return this.fields[name].input.value;
	}

	clearErrors() {
		this.errorBox.hidden = true;
		this.errorBox.textContent = '';
		for (const f of Object.values(this.fields)) {
			f.err.hidden = true;
			f.err.textContent = '';
			f.input.removeAttribute('aria-invalid');
		}
	}

	fieldError(name, message) {
		const f = this.fields[name];
		f.err.textContent = message;
		f.err.hidden = false;
		f.input.setAttribute('aria-invalid', 'true');
	}

	formError(message) {
		this.errorBox.textContent = message;
		this.errorBox.hidden = false;
	}

	// The API's problem, under its field when this form has it.
	showError(err) {
		if (!(err instanceof ApiError)) {
			this.formError(String(err.message || err));
			return;
		}
		let detail = err.detail;
		if (err.code === 'throttled' && err.retryAfter)
			detail += ' (in ' + err.retryAfter + ' s)';
		const name = err.field && (this.aliases[err.field] ||
		    err.field);
		const f = name && this.fields[name];
		if (f && !f.wrap.hidden && !f.input.disabled) {
			const prefix = err.field + ': ';
			this.fieldError(name, detail.startsWith(prefix) ?
			    detail.slice(prefix.length) : detail);
			f.input.focus();
		} else {
			this.formError(detail);
			this.errorBox.focus();
		}
	}

	async run() {
		this.clearErrors();
		let first = null;
		for (const [name, check] of Object.entries(this.checks)) {
			const f = this.fields[name];
			if (f.wrap.hidden || f.input.disabled)
				continue;
			const msg = check(f.input.type === 'checkbox' ?
			    f.input.checked : name.includes('password') ?
			    f.input.value : f.input.value.trim(), this);
			if (msg) {
				this.fieldError(name, msg);
				first = first || f.input;
			}
		}
		if (first) {
			first.focus();
			return;
		}
		this.submitButton.disabled = true;
		this.el.setAttribute('aria-busy', 'true');
		try {
			await this.onSubmit(this);
		} catch (e) {
			this.showError(e);
		} finally {
			this.submitButton.disabled = false;
			this.el.removeAttribute('aria-busy');
		}
	}

	reset() {
		this.el.reset();
		this.clearErrors();
	}
}

// The password part of a form: generate one (default) or type one.
// Returns { password() } giving the password to send.
export function passwordChoice(form, name, label) {
	const gid = uid('pw');
	const gen = h('input', { type: 'radio', name: gid, id: gid + '-g',
	    value: 'generate', checked: true });
	const typed = h('input', { type: 'radio', name: gid, id: gid + '-t',
	    value: 'type' });
	const group = h('fieldset', { class: 'field choice' },
	    h('legend', {}, label || 'Password'),
	    h('div', { class: 'radio' }, gen,
	    h('label', { for: gid + '-g' }, 'Generate a strong password')),
	    h('div', { class: 'radio' }, typed,
	    h('label', { for: gid + '-t' }, 'Type a password')));
	form.body.appendChild(group);
	const input = form.add(name, { label: 'New password',
	    type: 'password', autocomplete: 'new-password',
	    hint: 'At least 8 characters.', check: valid.password });
	const wrap = form.fields[name].wrap;
	wrap.hidden = true;
	const sync = () => {
		wrap.hidden = !typed.checked;
		if (typed.checked)
			input.focus();
	};
	gen.addEventListener('change', sync);
	typed.addEventListener('change', sync);
	return {
		generated: () => gen.checked,
		password: () => gen.checked ? generatePassword() : input.value,
		reset: () => {
			gen.checked = true;
			wrap.hidden = true;
		},
	};
}

// "Show more" paging over a list answered with next_cursor.
export function pager(load) {
	const more = h('button', { type: 'button', class: 'secondary',
	    hidden: true }, 'Show more');
	let cursor = null;
	more.addEventListener('click', async () => {
		more.disabled = true;
		try {
			cursor = await load(cursor);
			more.hidden = !cursor;
		} catch (e) {
			notifyError(e, 'Show more');
		} finally {
			more.disabled = false;
		}
	});
	return {
		el: h('div', { class: 'pager' }, more),
		set(next) {
			cursor = next;
			more.hidden = !next;
		},
	};
}
