#!/usr/bin/env node
// One change's before and after, measured in the same run: the gateway built from another git
// revision (in a temporary worktree sharing this checkout's node_modules) and the gateway built
// here, each over its own fake upstream, loaded in alternation so both see the same machine.
// Reports req/s, CPU µs per request (user + system of the gateway process, from /proc; also its fake
// upstream's, which shares the machine) and peak RSS.
// Usage: npm run bench:compare -- --base REV [--inputs 1] [--base64] [--rounds 6] [--duration 5]
//        [--base-args "ARGS"] [--head-args "ARGS"]   (extra `gateway start` flags for either side)
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, arg, cpuMicros, gatewayOverFakeUpstream, machine, peakRssMb, printTable, quiesce } from './lib.mjs';

const text = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const BASE = text('base', 'HEAD');
const INPUTS = arg('inputs', 1);
const ENCODING = process.argv.includes('--base64') ? 'base64' : 'float';
const ROUNDS = arg('rounds', 6);
const DURATION = arg('duration', 5);
const words = (value) => (value ? value.split(' ').filter(Boolean) : []);

/** The revision built in a temporary worktree: its bin/embctl runs its own dist. */
function buildRevision(rev) {
  const dir = mkdtempSync(join(tmpdir(), 'embctl-compare-'));
  execFileSync('git', ['worktree', 'add', '--detach', dir, rev], { cwd: ROOT, stdio: 'ignore' });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir });
  return {
    root: dir,
    remove: () => execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' }),
  };
}

const gatewayOf = async (root, extraArgs) => {
  const setup = await gatewayOverFakeUpstream(1536, 'bench', extraArgs, [], join(root, 'bin', 'embctl'));
  return {
    url: setup.gateway.url,
    pid: setup.gateway.child.pid,
    upstreamPid: setup.upstream.child.pid,
    apiKey: setup.apiKey,
    close: setup.close,
  };
};

const revision = buildRevision(BASE);
const sides = {
  [`base (${BASE})`]: await gatewayOf(revision.root, words(text('base-args'))),
  'head (this checkout)': await gatewayOf(ROOT, words(text('head-args'))),
};
const inputs = Array.from(
  { length: INPUTS },
  (_, i) => `Sentence number ${i} says something short about topic ${i % 17}.`,
);
const load = (side, duration) => ({
  url: `${side.url}/v1/embeddings`,
  method: 'POST',
  connections: 32,
  duration,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${side.apiKey}` },
  body: JSON.stringify({ input: INPUTS === 1 ? inputs[0] : inputs, encoding_format: ENCODING, model: 'bench' }),
});
try {
  for (const side of Object.values(sides)) await autocannon(load(side, 2)); // warm-up: JIT, pools
  const measured = Object.fromEntries(Object.keys(sides).map((name) => [name, { rps: [], cpu: [], upstreamCpu: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(sides);
    for (const name of round % 2 ? names.reverse() : names) {
      const side = sides[name];
      await quiesce(Object.values(sides).flatMap((s) => [s.pid, s.upstreamPid]));
      const before = cpuMicros(side.pid);
      const upstreamBefore = cpuMicros(side.upstreamPid);
      const result = await autocannon(load(side, DURATION));
      if (result.non2xx || result.errors) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      measured[name].rps.push(result.requests.average);
      measured[name].cpu.push((cpuMicros(side.pid) - before) / result.requests.total);
      measured[name].upstreamCpu.push((cpuMicros(side.upstreamPid) - upstreamBefore) / result.requests.total);
    }
  }
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  const [base, head] = Object.values(measured);
  console.log(
    `\n${INPUTS} × 1536 ${ENCODING} · ${machine()} · 32 connections, ${ROUNDS} rounds of ${DURATION} s, alternating\n`,
  );
  printTable([
    ...Object.entries(measured).map(([name, m]) => ({
      gateway: name,
      'req/s': Math.round(mean(m.rps)),
      'req/s by round': m.rps.map(Math.round).join(' '),
      'CPU µs/request': mean(m.cpu).toFixed(1),
      // The fake upstream shares the machine: what a gateway makes it spend is taken from the gateway.
      'upstream CPU µs/request': mean(m.upstreamCpu).toFixed(1),
      'peak RSS MB': Math.round(peakRssMb(sides[name].pid)),
    })),
    {
      gateway: 'head ÷ base',
      'req/s': (mean(head.rps) / mean(base.rps)).toFixed(3),
      'req/s by round': '',
      'CPU µs/request': (mean(head.cpu) / mean(base.cpu)).toFixed(3),
      'upstream CPU µs/request': (mean(head.upstreamCpu) / mean(base.upstreamCpu)).toFixed(3),
      'peak RSS MB': '',
    },
  ]);
} finally {
  await Promise.all(Object.values(sides).map((side) => side.close()));
  revision.remove();
}
