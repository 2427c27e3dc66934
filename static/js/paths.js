// Addresses of the panel's pages. Segments are percent-encoded, but an
// address's '@' is kept readable (RFC 3986 allows it in a path).

export function seg(s) {
	return encodeURIComponent(s).replace(/%40/g, '@');
}

export function panelPath(...segments) {
	return '/panel/' + segments.map(seg).join('/');
}
