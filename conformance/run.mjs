// Runs the client auth scenarios of the official MCP conformance suite (two pinned versions)
// against the mcp-auth CLI through conformance/adapter, one scenario at a time (the CLI's
// callback port is fixed), and compares the outcome with the expected-failures lists.
//
//   node run.mjs --adapter PATH --out DIR [--only REGEX]
//
// Each scenario ends as PASS, FAIL or SKIPPED (the suite printed `SKIPPED:`: not applicable
// at the requested spec version). The run fails when a scenario FAILs without being listed in
// expected-failures-<version>.yaml, and also when a listed scenario now PASSes: the lists can
// only shrink, and whoever fixes a scenario removes it from the list in the same change.
// A listed scenario that is SKIPPED is neither. The table goes to stdout and to
// DIR/results.md, the details to DIR/results.json, each scenario's output to DIR/<version>/.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));

// `version` names the run (its expected-failures-<version>.yaml and its output folder);
// `only`, when given, keeps the scenarios whose spec tags (`list --client` shows them in
// brackets) it accepts.
const SUITES = [
  {
    version: '0.1.16',
    pkg: 'conformance-0116',
    extraArgs: []
  },
  {
    version: '0.2.0-alpha.12',
    pkg: 'conformance-0200a12',
    extraArgs: ['--spec-version', '2026-07-28']
  },
  {
    // The MCP authorization extensions (ext-auth): SKIPPED at --spec-version 2026-07-28, so
    // they run once more without it.
    version: '0.2.0-alpha.12-extensions',
    pkg: 'conformance-0200a12',
    extraArgs: [],
    only: (tags) => tags.includes('extension')
  }
];

// The suite's own limit per scenario; the adapter stops the CLI well before it.
const SUITE_TIMEOUT_MS = 60000;
// The CLI's login callback port (what the adapter's CLI will listen on).
const CALLBACK_PORT = Number(process.env.MCP_AUTH_REDIRECT_PORT || 3030);
// How long to wait for that port when something else holds it.
const PORT_WAIT_MS = 30000;

const { values: opts } = parseArgs({
  options: {
    adapter: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' }
  }
});
if (!opts.adapter || !opts.out) {
  console.error('usage: node run.mjs --adapter PATH --out DIR [--only REGEX]');
  process.exit(2);
}
const only = opts.only ? new RegExp(opts.only) : null;
fs.mkdirSync(opts.out, { recursive: true });

function suiteCli(suite) {
  return path.join(here, 'node_modules', suite.pkg, 'dist', 'index.js');
}

function runSuite(suite, args) {
  return spawnSync(process.execPath, [suiteCli(suite), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024
  });
}

/** Whether host:port can be listened on right now (a host without that address counts as free). */
function portFreeOn(host, port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e) => resolve(e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT'));
    srv.listen({ port, host, ipv6Only: host === '::1' }, () => srv.close(() => resolve(true)));
  });
}

/** Whether the CLI could listen on the callback port: 127.0.0.1 and, where it exists, [::1]. */
async function portFree(port) {
  return (await portFreeOn('127.0.0.1', port)) && (await portFreeOn('::1', port));
}

/**
 * Waits (bounded) until the callback port is free: another program holding it for a moment
 * (a test run elsewhere on the machine) would fail a scenario for a reason of its own.
 */
async function waitForCallbackPort() {
  const until = Date.now() + PORT_WAIT_MS;
  let said = false;
  while (!(await portFree(CALLBACK_PORT))) {
    if (Date.now() > until) {
      console.error(`[conformance] port ${CALLBACK_PORT} is still taken; running anyway`);
      return;
    }
    if (!said) {
      console.error(`[conformance] waiting for port ${CALLBACK_PORT} to be free`);
      said = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The `auth/...` client scenarios the suite version lists (those `suite.only` keeps). */
function listAuthScenarios(suite) {
  const r = runSuite(suite, ['list', '--client']);
  if (r.status !== 0) {
    throw new Error(`conformance ${suite.version} list failed: ${r.stderr}`);
  }
  const names = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*-\s+(auth\/\S+)(?:\s+\[([^\]]*)\])?/.exec(line);
    const tags = m && m[2] ? m[2].split(',').map((t) => t.trim()) : [];
    if (m && (!suite.only || suite.only(tags))) names.push(m[1]);
  }
  if (names.length === 0) {
    throw new Error(`conformance ${suite.version} list named no auth scenario`);
  }
  return names;
}

/** scenario -> reason, from expected-failures-<version>.yaml (`client:` mapping). */
function loadExpected(suite) {
  const file = path.join(here, `expected-failures-${suite.version}.yaml`);
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  const client = doc.client ?? {};
  if (typeof client !== 'object' || Array.isArray(client)) {
    throw new Error(`${file}: \`client\` must map each scenario to its reason`);
  }
  for (const [name, reason] of Object.entries(client)) {
    if (typeof reason !== 'string' || reason.trim() === '') {
      throw new Error(`${file}: ${name} has no reason`);
    }
  }
  return { file, entries: new Map(Object.entries(client)) };
}

/** The newest result folder the suite wrote for a scenario under `dir`. */
function resultDir(dir, scenario) {
  const parent = path.join(dir, path.dirname(scenario));
  const prefix = `${path.basename(scenario)}-`;
  if (!fs.existsSync(parent)) return null;
  const found = fs
    .readdirSync(parent)
    .filter((d) => d.startsWith(prefix) && /^\d{4}-/.test(d.slice(prefix.length)))
    .sort();
  return found.length ? path.join(parent, found[found.length - 1]) : null;
}

/** Whether the CLI said its callback port was taken (by another program). */
function portTakenByOthers(dir) {
  const file = dir && path.join(dir, 'stderr.txt');
  return Boolean(
    file && fs.existsSync(file) && /no callback server on port/.test(fs.readFileSync(file, 'utf8'))
  );
}

/** What went wrong: the failed or warned checks, and the CLI's own error line. */
function failureDetails(dir, output) {
  const details = [];
  if (dir && fs.existsSync(path.join(dir, 'checks.json'))) {
    const checks = JSON.parse(fs.readFileSync(path.join(dir, 'checks.json'), 'utf8'));
    for (const c of checks) {
      if (c.status === 'FAILURE' || c.status === 'WARNING') {
        details.push(`${c.status === 'WARNING' ? 'warning ' : ''}${c.id}`);
      }
    }
  }
  const exited = /CLIENT EXITED WITH ERROR \(code (-?\d+)\)/.exec(output);
  if (exited) {
    details.push(
      exited[1] === '124'
        ? 'the CLI was stopped at the time limit (no callback?)'
        : `the CLI exited with ${exited[1]}`
    );
  }
  if (/timed out/i.test(output) && !exited) details.push('timed out');
  if (dir && fs.existsSync(path.join(dir, 'stderr.txt'))) {
    const lines = fs.readFileSync(path.join(dir, 'stderr.txt'), 'utf8').split('\n');
    const err = lines.filter((l) => l.startsWith('mcp-auth: error:')).pop();
    if (err) details.push(`"${err.slice('mcp-auth: error: '.length).slice(0, 160)}"`);
  }
  return details;
}

const rows = [];
let problems = 0;
for (const suite of SUITES) {
  const expected = loadExpected(suite);
  const dir = path.join(opts.out, suite.version);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const scenarios = listAuthScenarios(suite).filter((s) => !only || only.test(s));
  for (const scenario of scenarios) {
    const run = async () => {
      await waitForCallbackPort();
      return runSuite(suite, [
        'client',
        '--command',
        opts.adapter,
        '--scenario',
        scenario,
        ...suite.extraArgs,
        '--timeout',
        String(SUITE_TIMEOUT_MS),
        '-o',
        dir
      ]);
    };
    let r = await run();
    // Something else on the machine took the callback port between the check and the CLI's
    // listen: that says nothing about the client, so the scenario runs once more.
    if (r.status !== 0 && portTakenByOthers(resultDir(dir, scenario))) {
      console.error(`[conformance ${suite.version}] ${scenario}: the callback port was taken; running it again`);
      r = await run();
    }
    const output = `${r.stdout}\n${r.stderr}`;
    fs.writeFileSync(path.join(dir, `${scenario.replace('/', '_')}.log`), output);
    let result;
    if (r.status === 0 && /^SKIPPED:/m.test(r.stdout)) result = 'SKIPPED';
    else if (r.status === 0) result = 'PASS';
    else result = 'FAIL';
    const listed = expected.entries.has(scenario);
    let verdict = 'ok';
    if (result === 'FAIL' && !listed) verdict = 'UNEXPECTED FAILURE';
    if (result === 'PASS' && listed) verdict = 'NOW PASSES: remove it from the list';
    if (verdict !== 'ok') problems += 1;
    const details = result === 'FAIL' ? failureDetails(resultDir(dir, scenario), output) : [];
    rows.push({
      suite: suite.version,
      scenario,
      result,
      expected: listed ? expected.entries.get(scenario) : null,
      verdict,
      details
    });
    console.error(`[conformance ${suite.version}] ${scenario}: ${result}${verdict === 'ok' ? '' : ` (${verdict})`}`);
  }
  for (const name of expected.entries.keys()) {
    if (!rows.some((row) => row.suite === suite.version && row.scenario === name) && !only) {
      console.error(`[conformance ${suite.version}] note: ${name} is listed in ${path.basename(expected.file)} but the suite has no such scenario`);
    }
  }
}

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const lines = [
  '| suite | scenario | result | listed as expected failure | verdict | what failed |',
  '| --- | --- | --- | --- | --- | --- |'
];
for (const row of rows) {
  lines.push(
    `| ${row.suite} | ${row.scenario} | ${row.result} | ${row.expected ? 'yes' : 'no'} | ${row.verdict} | ${cell(row.details.join('; ') || '-')} |`
  );
}
const count = (suite, result) =>
  rows.filter((row) => row.suite === suite && row.result === result).length;
lines.push('');
for (const suite of SUITES) {
  lines.push(
    `${suite.version}: ${count(suite.version, 'PASS')} passed, ${count(suite.version, 'FAIL')} failed, ${count(suite.version, 'SKIPPED')} skipped`
  );
}
const table = lines.join('\n') + '\n';
fs.writeFileSync(path.join(opts.out, 'results.md'), table);
fs.writeFileSync(path.join(opts.out, 'results.json'), JSON.stringify(rows, null, 2) + '\n');
process.stdout.write(table);
if (problems > 0) {
  console.error(
    `conformance: ${problems} scenario(s) differ from the expected-failures lists (see the verdict column; logs in ${opts.out})`
  );
  process.exit(1);
}
console.error(`conformance: as expected (results in ${opts.out})`);
