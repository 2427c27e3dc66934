// A small test runner: tests run in the order they are declared, each
// with a time limit; hooks run before all, after each (where a test may
// still fail, e.g. on console errors) and after all, always. The last
// line is "N passed, N failed" and the exit status says whether all
// passed.

const tests = [];
const hooks = { before: [], afterEach: [], after: [] };

export function test(name, fn) {
	tests.push({ name, fn });
}

export function before(fn) {
	hooks.before.push(fn);
}

export function afterEach(fn) {
	hooks.afterEach.push(fn);
}

export function after(fn) {
	hooks.after.push(fn);
}

function limit(promise, ms, what) {
	let t;
	const timeout = new Promise((resolve, reject) => {
		t = setTimeout(() => reject(new Error(what + ': no result ' +
		    'within ' + ms / 1000 + ' s')), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

function indent(s) {
	return String(s).split('\n').map((l) => '    ' + l).join('\n');
}

function describe(e) {
	return e && e.stack ? e.stack : String(e);
}

export async function run({ timeout, only }) {
	let passed = 0;
	let failed = 0;
	let setupError = null;
	const t0 = Date.now();
	try {
		for (const h of hooks.before)
			await limit(h(), 120000, 'setup');
	} catch (e) {
		setupError = e;
		console.log('setup failed:\n' + indent(describe(e)));
	}
	let n = 0;
	for (const t of tests) {
		if (only && !only.test(t.name))
			continue;
		n++;
		if (setupError) {
			failed++;
			console.log('not ok ' + n + ' - ' + t.name + ' (setup failed)');
			continue;
		}
		const start = Date.now();
		let error = null;
		try {
			await limit(t.fn(), timeout, t.name);
		} catch (e) {
			error = e;
		}
		for (const h of hooks.afterEach) {
			try {
				await limit(h(t.name, error), 30000, 'after ' + t.name);
			} catch (e) {
				error = error || e;
			}
		}
		const ms = Date.now() - start;
		if (error) {
			failed++;
			console.log('not ok ' + n + ' - ' + t.name + ' (' + ms +
			    ' ms)\n' + indent(describe(error)));
		} else {
			passed++;
			console.log('ok ' + n + ' - ' + t.name + ' (' + ms + ' ms)');
		}
	}
	for (const h of hooks.after) {
		try {
			await limit(h(), 60000, 'teardown');
		} catch (e) {
			failed++;
			console.log('teardown failed:\n' + indent(describe(e)));
		}
	}
	console.log('browser tests: ' + ((Date.now() - t0) / 1000).toFixed(1) +
	    ' s');
	console.log(passed + ' passed, ' + failed + ' failed');
	return failed === 0 && (passed > 0 || only);
}
