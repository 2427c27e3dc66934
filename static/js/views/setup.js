// A mailbox's client setup page, for its user or an admin, made to be
// printed. Servers, ports and TLS modes come from
// GET /api/v1/mailboxes/{address}/client-setup, never from here.
import { h, replace } from '../dom.js';
import { api, seg } from '../api.js';
import { panelPath } from '../paths.js';
import { page, card, loading, failure, button, usage } from '../ui.js';
import * as fmt from '../format.js';

// The entry to recommend: implicit TLS first (RFC 8314), IMAP before
// POP3 for incoming mail.
function preferred(list, protocol) {
	return list.find((e) => e.protocol === protocol &&
	    e.security === 'ssl/tls') ||
	    list.find((e) => e.protocol === protocol) ||
	    list.find((e) => e.security === 'ssl/tls') || list[0] || null;
}

function serverRow(e, best) {
	const cell = (label, field, v) => h('td', { 'data-label': label,
	    'data-field': field }, v);
	return h('tr', { class: e === best ? 'best' : null },
	    cell('Protocol', 'protocol', fmt.protocol(e.protocol)),
	    cell('Server', 'host', h('code', {}, e.host)),
	    cell('Port', 'port', String(e.port)),
	    cell('Security', 'security', fmt.security(e.security)),
	    e === best ? h('td', { 'data-label': 'Recommended' },
	    h('span', { class: 'badge on' }, 'recommended')) : h('td'));
}

function servers(id, title, list, best) {
	const head = h('tr', {},
	    ['Protocol', 'Server', 'Port', 'Security'].map((l) =>
	    h('th', { scope: 'col' }, l)),
	    h('th', { scope: 'col' }, h('span', { class: 'sr-only' },
	    'Recommended')));
	return h('section', { class: 'servers', 'aria-labelledby': id },
	    h('h3', { id }, title),
	    list.length === 0 ? h('p', { class: 'warn' }, 'None is offered ' +
	    'by this server.') : h('div', { class: 'table-wrap' },
	    h('table', { class: 'list', 'data-servers': id },
	    h('thead', {}, head),
	    h('tbody', {}, list.map((e) => serverRow(e, best))))));
}

// A value to type in a mail program's form.
function v(text) {
	return h('strong', { class: 'val' }, text);
}

function steps(title, items) {
	return h('section', { class: 'client' },
	    h('h3', {}, title),
	    h('ol', {}, items.map((i) => h('li', {}, i))));
}

// "IMAP, server mail.example.net, port 993, SSL/TLS"
function describe(e) {
	return fmt.protocol(e.protocol) + ', server ' + e.host + ', port ' +
	    e.port + ', ' + fmt.security(e.security);
}

function show(root, s, address, mbox, admin) {
	const inBest = preferred(s.incoming, 'imap');
	const outBest = preferred(s.outgoing, 'smtp');
	const starttls = (list) => list.filter((e) =>
	    e.security === 'starttls').map((e) => String(e.port));
	const slow = starttls(s.incoming).concat(starttls(s.outgoing));
	const user = s.user;
	const inName = inBest ? fmt.protocol(inBest.protocol) : 'IMAP';
	const inHost = inBest ? inBest.host : '';
	const inPort = inBest ? String(inBest.port) : '';
	const inSec = inBest ? fmt.security(inBest.security) : '';
	const outHost = outBest ? outBest.host : '';
	const outPort = outBest ? String(outBest.port) : '';
	const outSec = outBest ? fmt.security(outBest.security) : '';
	const profile = '/api/v1/mailboxes/' + seg(address) + '/mobileconfig';

	replace(root,
	    admin ? h('p', { class: 'crumbs no-print' }, h('a', { href:
	    panelPath('mailboxes', address) }, '← Mailbox ' + address)) : null,
	    h('div', { class: 'actions no-print' },
	    button('Print these instructions', () => window.print(),
	    'secondary')),
	    card('Your settings',
	    h('dl', { class: 'facts' },
	    h('dt', {}, 'Mail address'), h('dd', {}, h('code', {}, address)),
	    h('dt', {}, 'User name'), h('dd', { 'data-field': 'user' },
	    h('code', {}, user)),
	    h('dt', {}, 'Password'), h('dd', {}, 'the mailbox password ' +
	    '(not shown here)'),
	    h('dt', {}, 'Authentication'), h('dd', {}, 'normal password, ' +
	    'sent only over the encrypted connection'),
	    mbox ? [h('dt', {}, 'Storage'), h('dd', {},
	    usage(mbox.storage_used, mbox.quota))] : null)),
	    card('Servers',
	    servers('incoming', 'Incoming mail', s.incoming, inBest),
	    servers('outgoing', 'Outgoing mail', s.outgoing, outBest),
	    h('h3', {}, 'Which to use'),
	    h('p', {}, inBest && outBest ? 'Use ' + describe(inBest) +
	    ' for incoming mail, and ' + describe(outBest) + ' for ' +
	    'outgoing mail. With SSL/TLS the connection is encrypted from ' +
	    'its first byte. ' : '',
	    slow.length ? 'The STARTTLS ports (' + slow.join(', ') + ') ' +
	    'start unencrypted and switch to encryption before the password ' +
	    'is sent; use them only where a network blocks the others. ' : '',
	    'Outgoing mail always needs your user name and password.'),
	    h('h3', {}, 'IMAP or POP3?'),
	    h('p', {}, 'IMAP keeps your mail and folders on the server, so ' +
	    'your phone, computer and every other device see the same ' +
	    'mailbox. POP3 downloads the inbox to one device, and the ' +
	    'others no longer see what it took, so choose it only for a ' +
	    'single device that keeps its own copy.')),
	    card('Step by step',
	    h('div', { class: 'steps' },
	    steps('Thunderbird', [
		['Open the menu ☰, then Account Settings, Account Actions, ' +
		'Add Mail Account (on its first start, Thunderbird opens ' +
		'this by itself).'],
		['Enter your name, the mail address ', v(address), ' and the ' +
		'password, then choose Continue.'],
		['Thunderbird usually finds the settings by itself. If not, ' +
		'choose Configure manually and enter: incoming ', v(inName),
		', server ', v(inHost), ', port ', v(inPort),
		', connection security ', v(inSec), '; outgoing ', v('SMTP'),
		', server ', v(outHost), ', port ', v(outPort),
		', connection security ', v(outSec), '; authentication ',
		v('Normal password'), ' and user name ', v(user),
		' for both.'],
		['Choose Done.'],
	    ]),
	    steps('Outlook', [
		['Choose File, Add Account (in the new Outlook: Settings, ' +
		'Accounts, Add account).'],
		['Enter ', v(address), ', open Advanced options, tick Let me ' +
		'set up my account manually, choose Connect, then ',
		v(inName), '.'],
		['Incoming mail: server ', v(inHost), ', port ', v(inPort),
		', encryption method ', v(inSec), '. Outgoing mail: server ',
		v(outHost), ', port ', v(outPort), ', encryption method ',
		v(outSec), '. (In Outlook, "TLS" means STARTTLS.)'],
		['Enter the password (user name ', v(user), ') and choose ' +
		'Connect.'],
	    ]),
	    steps('Apple Mail (iPhone, iPad, Mac)', [
		['Easiest: on the device, ', h('a', { href: profile,
		'download': '', 'data-test': 'mobileconfig' },
		'download the configuration profile'), ', then install it ' +
		'(iPhone and iPad: Settings, Profile Downloaded; Mac: System ' +
		'Settings, Privacy & Security, Profiles). It asks for the ' +
		'password.'],
		['Or by hand on iPhone and iPad: Settings, Apps, Mail, Mail ' +
		'Accounts, Add Account, Other, Add Mail Account; on a Mac: ' +
		'Mail, Add Account, Other Mail Account.'],
		['Enter your name, ', v(address), ' and the password, choose ' +
		'Next, then ', v(inName), '.'],
		['Incoming Mail Server: host name ', v(inHost),
		', user name ', v(user), '. Outgoing Mail Server: host name ',
		v(outHost), ', user name ', v(user), ', with the password. ' +
		'Choose Next.'],
		['If the account does not connect, open its Advanced ' +
		'settings: incoming Use SSL on, port ', v(inPort),
		'; outgoing (SMTP) Use SSL on, port ', v(outPort), '.'],
	    ]),
	    steps('Android', [
		['In Gmail: Settings, Add account, Other. Enter ', v(address),
		', choose Manual setup, then Personal (', v(inName), ').'],
		['Enter the password. Incoming server: user name ', v(user),
		', server ', v(inHost), ', port ', v(inPort),
		', security type ', v(inSec), '.'],
		['Outgoing server: require sign-in on, user name ', v(user),
		', server ', v(outHost), ', port ', v(outPort),
		', security type ', v(outSec), '.'],
		['Thunderbird for Android (K-9 Mail) usually finds these ' +
		'settings by itself from the address and the password.'],
	    ]))));
}

export function render(ctx) {
	const address = ctx.params[0];
	const admin = ctx.session.role === 'admin';
	const root = h('div', {}, loading());
	const base = '/api/v1/mailboxes/' + seg(address);
	Promise.all([api.get(base + '/client-setup'),
	    api.get(base).catch(() => null)])
	    .then(([s, m]) => show(root, s, address, m, admin),
	    (e) => replace(root, failure(e)));
	return page('Mail settings for ' + address, root);
}
