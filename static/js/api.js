// The panel is a client of the JSON API (/api/v1), signed in with the
// session cookie; requests that change something carry the session's
// CSRF token in X-CSRF-Token. Errors are RFC 9457 problems: ApiError
// keeps their status, code, detail and field.

export class ApiError extends Error {
	constructor(status, problem) {
		const p = problem || {};
		super(p.detail || p.title || ('HTTP ' + status));
		this.status = status;
		this.code = p.code || '';
		this.detail = p.detail || p.title || ('the server answered ' +
		    status);
		this.field = p.field || null;
		this.retryAfter = null;
	}
}

let csrfToken = null;
let onUnauthorized = null;

export function setCsrf(token) {
	csrfToken = token;
}

// f() is called when a signed-in request answers 401: the session ended
// (idle, lifetime, signed out elsewhere, password changed).
export function setUnauthorizedHandler(f) {
	onUnauthorized = f;
}

// A path segment: the address or name as the API expects it.
export function seg(s) {
	return encodeURIComponent(s);
}

export async function request(method, path, body, opts) {
	const o = opts || {};
	const headers = { 'Accept': 'application/json' };
	const init = { method, headers, credentials: 'same-origin',
	    cache: 'no-store', redirect: 'error' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	if (method !== 'GET' && method !== 'HEAD' && csrfToken)
		headers['X-CSRF-Token'] = csrfToken;
	let r;
	try {
		r = await fetch(path, init);
	} catch (e) {
		const err = new ApiError(0, { detail: 'the server cannot be ' +
		    'reached; check the connection and try again' });
		err.code = 'network';
		throw err;
	}
	const type = r.headers.get('Content-Type') || '';
	let doc = null;
	if (r.status !== 204 && r.status !== 304) {
		if (type.includes('json'))
			doc = await r.json().catch(() => null);
		else
			doc = await r.text();
	}
	if (!r.ok) {
		const err = new ApiError(r.status, typeof doc === 'object' ?
		    doc : null);
		err.retryAfter = r.headers.get('Retry-After');
		if (r.status === 401 && !o.noAuthHandler && onUnauthorized)
			onUnauthorized(err);
		throw err;
	}
	return doc;
}

export const api = {
	get: (path, opts) => request('GET', path, undefined, opts),
	post: (path, body, opts) => request('POST', path, body, opts),
	put: (path, body, opts) => request('PUT', path, body, opts),
	patch: (path, body, opts) => request('PATCH', path, body, opts),
	del: (path, opts) => request('DELETE', path, undefined, opts),
};

// A query string from an object, skipping empty values.
export function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params))
		if (v !== undefined && v !== null && v !== '')
			q.set(k, String(v));
	const s = q.toString();
	return s ? '?' + s : '';
}
