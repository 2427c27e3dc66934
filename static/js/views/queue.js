// The outbound queue: messages waiting for delivery to other domains,
// retry now, delete (without a bounce).
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { page, card, table, loading, failure, notify, actionButton,
    confirm, button } from '../ui.js';
import * as fmt from '../format.js';

function recipients(m) {
	return h('ul', { class: 'plain' }, m.recipients.map((r) =>
	    h('li', {}, h('span', {}, r.recipient), ' ',
	    h('span', { class: 'badge ' + (r.status === 'sent' ? 'on' :
	    r.status === 'pending' ? 'info' : 'off') }, r.status),
	    h('span', { class: 'muted' }, ' ' + fmt.plural(r.attempts,
	    'attempt') + (r.status === 'pending' ? ', next ' +
	    fmt.datetime(r.next_attempt) : '')),
	    r.last_error ? h('div', { class: 'muted small' }, r.last_error) :
	    null)));
}

export function render() {
	const root = h('div', {}, loading());

	async function reload() {
		try {
			const doc = await api.get('/api/v1/queue');
			draw(doc.messages);
		} catch (e) {
			replace(root, failure(e));
		}
	}

	async function retry(m) {
		await api.post('/api/v1/queue/' + seg(m.id) + '/retry');
		notify('Message ' + m.id + ' will be tried again now.');
		await reload();
	}

	async function remove(m) {
		if (!await confirm({ title: 'Delete message ' + m.id + '?',
		    message: 'It will not be delivered, and its sender gets no ' +
		    'bounce.', confirm: 'Delete message' }))
			return;
		await api.del('/api/v1/queue/' + seg(m.id));
		notify('Message ' + m.id + ' deleted from the queue.');
		await reload();
	}

	function draw(messages) {
		replace(root, table({
			caption: 'Queued messages',
			rows: messages,
			empty: 'The queue is empty: every message has been ' +
			    'delivered.',
			columns: [
				{ label: 'Message', header: true, cell: (m) =>
				    h('code', {}, m.id) },
				{ label: 'Sender', cell: (m) => m.sender || '<>' },
				{ label: 'Size', cell: (m) => fmt.bytes(m.size) },
				{ label: 'Queued', cell: (m) =>
				    fmt.datetime(m.created) },
				{ label: 'Recipients', cell: recipients },
				{ label: 'Actions', class: 'row-actions', cell: (m) => [
				    actionButton('Retry now', () => retry(m),
				    'secondary small', { 'aria-label': 'Retry ' +
				    m.id }),
				    actionButton('Delete', () => remove(m),
				    'danger small', { 'aria-label': 'Delete ' +
				    m.id }),
				] },
			],
		}));
	}

	reload();
	return page('Queue',
	    card('Outbound queue',
	    h('p', { class: 'muted' }, 'Mail to other domains waits here ' +
	    'until the receiving server takes it; failed attempts are ' +
	    'retried with growing delays.'),
	    h('div', { class: 'actions' }, button('Refresh', () => reload())),
	    root));
}
