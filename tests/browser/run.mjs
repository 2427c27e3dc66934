// Runs the browser tests: node tests/browser/run.mjs
// (make test-browser). FACTEUR_BIN names the daemon (default
// build/facteur); BROWSER_TESTS=REGEX runs the matching tests only.
import { run } from './lib/harness.mjs';
import './panel.test.mjs';

const only = process.env.BROWSER_TESTS ?
    new RegExp(process.env.BROWSER_TESTS) : null;
const ok = await run({ timeout: 90000, only });
process.exit(ok ? 0 : 1);
