// Building the page: elements are made with createElement and text is
// set through text nodes only, never parsed as HTML, so nothing the API
// returns can become markup or script.

// h('a', {href: '/x', class: 'b', onclick: f}, 'text', child, [more])
export function h(tag, props, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			el.addEventListener(k.slice(2), v);
		else if (k === 'class')
			el.className = v;
		else if (k === 'text')
			el.textContent = v;
		else if (k === 'value')
			el.value = v;
		else if (k === 'checked' || k === 'disabled' || k === 'hidden' ||
		    k === 'required' || k === 'selected' || k === 'multiple')
			el[k] = Boolean(v);
		else if (k === 'dataset')
			Object.assign(el.dataset, v);
		else if (k === 'style' || k === 'innerHTML')
			throw new Error('h: ' + k + ' is not allowed');
		else
			el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.appendChild(c);
		else
			el.appendChild(document.createTextNode(String(c)));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...children) {
	clear(el);
	return append(el, children);
}

let ids = 0;

// A document-unique id for labels and descriptions.
export function uid(prefix) {
	ids++;
	return (prefix || 'id') + '-' + ids;
}
