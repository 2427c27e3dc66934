// Numbers and dates as people read them.

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n) {
	if (n === null || n === undefined)
		return '–';
	let v = Number(n);
	let u = 0;
	while (v >= 1024 && u < UNITS.length - 1) {
		v /= 1024;
		u++;
	}
	if (u === 0)
		return v + (v === 1 ? ' byte' : ' bytes');
	return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) :
	    v.toFixed(2)).replace(/\.0+$/, '') + ' ' + UNITS[u];
}

export function quota(n) {
	return Number(n) === 0 ? 'unlimited' : bytes(n);
}

// Unix seconds to a local date and time.
export function datetime(t) {
	if (t === null || t === undefined || t === 0)
		return 'never';
	return new Date(t * 1000).toLocaleString(undefined, {
		year: 'numeric', month: 'short', day: 'numeric',
		hour: '2-digit', minute: '2-digit',
	});
}

export function date(t) {
	if (!t)
		return '–';
	return new Date(t * 1000).toLocaleDateString(undefined, {
		year: 'numeric', month: 'long', day: 'numeric',
	});
}

export function duration(s) {
	const d = Math.floor(s / 86400);
	const hr = Math.floor((s % 86400) / 3600);
	const m = Math.floor((s % 3600) / 60);
	if (d > 0)
		return d + ' d ' + hr + ' h';
	if (hr > 0)
		return hr + ' h ' + m + ' min';
	return m + ' min';
}

export function plural(n, one, many) {
	return n + ' ' + (n === 1 ? one : (many || one + 's'));
}

// The TLS mode of a client-setup entry, in the words mail clients use.
export function security(s) {
	if (s === 'ssl/tls')
		return 'SSL/TLS';
	if (s === 'starttls')
		return 'STARTTLS';
	return s ? s.toUpperCase() : 'none';
}

export function protocol(p) {
	return { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' }[p] ||
	    String(p).toUpperCase();
}

// Mebibytes typed in a form to bytes; '' stays ''.
export const MIB = 1024 * 1024;
