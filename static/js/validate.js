// Checks forms make before they ask the API, with the API's own rules
// and words (daemon/lib/addr.c, daemon/admin/service.c). Each returns
// null when the value is fine, else a message. The API checks again:
// what it refuses is shown from its answer.

const ATEXT = /^[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]$/;

function utf8Length(s) {
	return new TextEncoder().encode(s).length;
}

export function password(s) {
	const n = utf8Length(s);
	if (n < 8)
		return 'password too short (at least 8 characters)';
	if (n > 1024)
		return 'password too long (at most 1024 characters)';
	if (s.includes('\0'))
		return 'password contains a NUL byte';
	return null;
}

// Admin and token names.
export function name(s, what) {
	if (!/^[A-Za-z0-9._-]{1,64}$/.test(s))
		return 'a' + (what === 'admin' ? 'n admin' : ' ' + what) +
		    ' name has 1 to 64 letters, digits, \'-\', \'_\', \'.\'';
	return null;
}

export function domain(s) {
	if (s === '')
		return 'invalid domain name: empty domain';
	if (s.startsWith('['))
		return 'invalid domain name: address literals are not accepted';
	if (s.endsWith('.'))
		return 'invalid domain name: trailing dot in domain';
	if (utf8Length(s) > 255)
		return 'invalid domain name: domain too long';
	const labels = s.split('.');
	for (const l of labels) {
		if (l === '')
			return 'invalid domain name: empty label in domain';
		if (utf8Length(l) > 63)
			return 'invalid domain name: label too long';
		// Labels beyond ASCII are converted by the server (IDNA).
		if (/^[\x00-\x7f]*$/.test(l)) {
			if (!/^[A-Za-z0-9-]+$/.test(l))
				return 'invalid domain name: invalid character ' +
				    'in domain';
			if (l.startsWith('-') || l.endsWith('-'))
				return 'invalid domain name: label begins or ' +
				    'ends with a hyphen';
		}
	}
	if (labels.length < 2)
		return 'invalid domain name: domain needs at least two labels';
	if (/^[0-9]+$/.test(labels[labels.length - 1]))
		return 'invalid domain name: numeric top-level domain';
	return null;
}

// An unquoted local part (RFC 5321 Dot-string, UTF-8 allowed).
export function localPart(s) {
	if (s === '')
		return 'invalid address: empty local part';
	if (s.includes('@'))
		return 'the local part is what comes before the @';
	if (utf8Length(s) > 64)
		return 'invalid address: local part too long';
	if (s.startsWith('"'))
		return null;	// quoted: left to the server
	for (const c of s) {
		if (c !== '.' && c.charCodeAt(0) < 0x80 && !ATEXT.test(c))
			return 'invalid address: invalid character in local part';
	}
	if (s.startsWith('.') || s.endsWith('.') || s.includes('..'))
		return 'invalid address: misplaced dot in local part';
	return null;
}

export function address(s) {
	const at = s.lastIndexOf('@');
	if (at < 0)
		return 'invalid address: missing @ in address';
	return localPart(s.slice(0, at)) || domain(s.slice(at + 1));
}

// A size in MiB typed in a form: '' (not given) or a number >= 0.
export function mebibytes(s) {
	if (s === '')
		return null;
	if (!/^[0-9]+(\.[0-9]+)?$/.test(s))
		return 'a size in MiB: a number, 0 for unlimited';
	return null;
}

export function count(s, max) {
	if (s === '')
		return null;
	if (!/^[0-9]+$/.test(s) || (max !== undefined && Number(s) > max))
		return 'a whole number from 0' + (max !== undefined ? ' to ' +
		    max : '');
	return null;
}
