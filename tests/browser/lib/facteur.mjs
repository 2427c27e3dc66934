// A real daemon for the browser tests, as tests/e2e/conftest.py starts
// one: build/facteur serve on 127.0.0.1 with a temporary data directory
// and a port offset of this suite's own, stopped at the end whatever
// happens (SIGTERM, then SIGKILL after a bounded wait).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
export const BIN = process.env.FACTEUR_BIN ||
    path.join(REPO, 'build', 'facteur');
export const HOSTNAME = 'mail.example.net';

const START_TIMEOUT = 15000;
const STOP_TIMEOUT = 15000;

// Default ports before the offset (tests/e2e/conftest.py: LISTENERS).
const LISTENERS = { smtp: 25, submission: 587, submissions: 465, imap: 143,
    imaps: 993, pop3: 110, pop3s: 995, https: 443, http: 80 };

const live = new Set();

function portFree(port) {
	return new Promise((resolve) => {
		const s = net.createServer();
		s.once('error', () => resolve(false));
		s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
	});
}

// Offsets 50040 + 40 * k: above the e2e suite's 30000..50039, a
// block chosen by the process id, walked until every port binds.
async function pickOffset(skip) {
	const base = 50040 + (process.pid % 190) * 40;
	for (let i = skip; i < skip + 40; i++) {
		const off = base + (i % 40);
		let ok = true;
		for (const p of Object.values(LISTENERS))
			if (!await portFree(p + off)) {
				ok = false;
				break;
			}
		if (ok)
			return off;
	}
	throw new Error('no free port offset');
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

function get(port, urlPath) {
	return new Promise((resolve, reject) => {
		const rq = https.get({ host: '127.0.0.1', port, path: urlPath,
		    rejectUnauthorized: false, timeout: 2000 }, (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode));
		});
		rq.on('error', reject);
		rq.on('timeout', () => rq.destroy(new Error('timeout')));
	});
}

export class Facteur {
	constructor(settings, sections) {
		this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(),
		    'facteur-browser-'));
		// The daemon drops to the user facteur when started as root.
		fs.chmodSync(this.dataDir, 0o755);
		this.configPath = path.join(this.dataDir, 'facteur.conf');
		this.logPath = path.join(this.dataDir, 'facteur.log');
		this.settings = Object.assign({ hostname: HOSTNAME,
		    log_level: 'info', loop_threads: '2', worker_threads: '2' },
		    settings || {});
		this.sections = sections || {};
		this.proc = null;
		this.offset = null;
		this.writeConfig();
	}

	writeConfig() {
		const lines = ['# written by tests/browser/lib/facteur.mjs'];
		for (const [k, v] of Object.entries(this.settings))
			lines.push(k + ' = ' + v);
		for (const name of Object.keys(LISTENERS)) {
			lines.push('', '[' + name + ']', 'address = 127.0.0.1');
			for (const [k, v] of Object.entries(this.sections[name] ||
			    {}))
				lines.push(k + ' = ' + v);
		}
		fs.writeFileSync(this.configPath, lines.join('\n') + '\n');
	}

	port(name) {
		return LISTENERS[name] + this.offset;
	}

	get base() {
		return 'https://127.0.0.1:' + this.port('https');
	}

	async start() {
		for (let attempt = 0; attempt < 5; attempt++) {
			this.offset = await pickOffset(attempt * 7);
			const log = fs.openSync(this.logPath, 'a');
			this.proc = spawn(BIN, ['serve', '--config', this.configPath,
			    '--data-dir', this.dataDir, '--port-offset',
			    String(this.offset)], { stdio: ['ignore', log, log] });
			fs.closeSync(log);
			live.add(this);
			this.exited = new Promise((resolve) =>
			    this.proc.once('exit', (code, sig) =>
			    resolve(code === null ? sig : code)));
			if (await this.ready())
				return this;
			// Someone took a port between the check and the bind.
			await this.stop();
		}
		throw new Error('facteur could not start:\n' + this.log());
	}

	async ready() {
		const deadline = Date.now() + START_TIMEOUT;
		while (Date.now() < deadline) {
			if (this.proc.exitCode !== null ||
			    this.proc.signalCode !== null) {
				if (this.log().includes('cannot listen'))
					return false;
				throw new Error('facteur serve exited:\n' +
				    this.log());
			}
			try {
				if (await get(this.port('https'),
				    '/api/openapi.json') === 200)
					return true;
			} catch (e) {
				// not listening yet
			}
			await sleep(100);
		}
		throw new Error('facteur not ready after ' + START_TIMEOUT +
		    ' ms:\n' + this.log());
	}

	// Returns the exit status (a signal name when killed).
	async stop() {
		if (!this.proc)
			return null;
		const p = this.proc;
		if (p.exitCode === null && p.signalCode === null) {
			p.kill('SIGTERM');
			const t = setTimeout(() => p.kill('SIGKILL'),
			    STOP_TIMEOUT);
			await this.exited;
			clearTimeout(t);
		}
		live.delete(this);
		this.proc = null;
		return p.exitCode !== null ? p.exitCode : p.signalCode;
	}

	cleanup() {
		fs.rmSync(this.dataDir, { recursive: true, force: true });
	}

	log() {
		try {
			return fs.readFileSync(this.logPath, 'utf8');
		} catch (e) {
			return '';
		}
	}

	// Runs `facteur ARGS --data-dir D --config C`; throws on failure.
	cli(args, input) {
		return execFileSync(BIN, [...args, '--data-dir', this.dataDir,
		    '--config', this.configPath], { input: input || '',
		    encoding: 'utf8', timeout: 30000 });
	}
}

// Whatever ends the process, no daemon is left behind.
function killAll() {
	for (const f of live) {
		if (f.proc && f.proc.exitCode === null)
			f.proc.kill('SIGKILL');
	}
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
	process.on(sig, () => {
		killAll();
		process.exit(130);
	});
}
