// Helpers shared by the benchmarks: child processes, peak RSS, the machine's description.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'embctl');

/** Starts a long-running child that prints "listening on URL"; resolves with the URL and the child. */
export function startServer(args, env = process.env) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: match[1], child, output: () => out });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Runs a command to completion under GNU time; resolves with wall seconds and peak RSS in MB. */
export function timed(args, env = process.env, input) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '__maxrss_kb=%M', process.execPath, ...args], {
      cwd: ROOT,
      env,
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.stderr.on('data', (d) => (stderr += d.toString()));
    if (input) child.stdin.end(input);
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = Number(/__maxrss_kb=(\d+)/.exec(stderr)?.[1] ?? NaN) / 1024;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited with ${code}:\n${stderr}`));
      resolve({ seconds, peakRssMb: rss, stdout, stderr });
    });
  });
}

/** Writes `bench/results/NAME.json` (the directory is not in git: made on first use). */
export async function saveResult(name, value) {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
}

/** `--name value` from the command line, as a number, or the fallback. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/**
 * A fake upstream of `dims`-dimension vectors and a gateway in front of it (an openai-compatible
 * entity `entityId`, started with `gatewayArgs`), over a temporary data dir; `close()` stops both and removes the dir.
 */
/** `nodeArgs`: flags for the gateway's Node (e.g. --cpu-prof); `bin`: another build's bin/embctl (bench/compare.mjs). */
export async function gatewayOverFakeUpstream(dims, entityId, gatewayArgs = [], nodeArgs = [], bin = BIN) {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'embctl-bench-'));
  const env = {
    ...process.env,
    EMBCTL_CONFIG_DIR: join(dir, 'config'),
    EMBCTL_DATA_DIR: join(dir, 'data'),
    CI: 'true',
  };
  const upstream = await startServer(['bench/fake-upstream.mjs', String(dims)], env);
  const gateway = await startServer([...nodeArgs, bin, 'gateway', 'start', '--port', '0', ...gatewayArgs], env);
  const profile = JSON.parse(readFileSync(join(dir, 'config', 'config.json'), 'utf8')).profiles.local;
  const created = await fetch(`${gateway.url}/v1/embedding-models`, {
    method: 'POST',
    headers: { authorization: `Bearer ${profile.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: entityId,
      provider: 'openai-compatible',
      config: { connection: { base_url: `${upstream.url}/v1` }, options: { model: `${entityId}-v1` } },
      dimensions: dims,
    }),
  });
  if (created.status !== 201) throw new Error(`creating the bench entity failed: ${await created.text()}`);
  return {
    upstream,
    gateway,
    apiKey: profile.apiKey,
    adminToken: profile.adminToken,
    close: async () => {
      await Promise.all([stop(gateway.child), stop(upstream.child)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU time (user + system, all threads) the process has used, in µs (Linux /proc, 10 ms ticks). */
export const cpuMicros = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};

/** `pid` and its descendants (a `--workers` gateway's processes), as far as /proc tells. */
const withChildren = (pid) => {
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // gone, or a kernel without the file: the process alone
  }
  return [pid, ...children.flatMap((child) => withChildren(Number(child)))];
};

/**
 * Waits until the processes are idle: under 10 % of a CPU over 200 ms, together, for at most `maxMs`.
 * A target that falls behind its load (the parsing proxy on 8 MB bodies) goes on working through the
 * requests the load generator abandoned for seconds after its round, and would otherwise take that
 * CPU from the next target measured (seen: 3.3 s of the parsing proxy's CPU inside the gateway's round).
 */
export async function quiesce(pids, maxMs = 20_000) {
  const all = pids.filter(Boolean).flatMap(withChildren);
  const used = () =>
    all.reduce((sum, pid) => {
      try {
        return sum + cpuMicros(pid);
      } catch {
        return sum;
      }
    }, 0);
  let last = used();
  for (const until = Date.now() + maxMs; Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = used();
    if (now - last < 20_000) return;
    last = now;
  }
}

/** The process's peak resident set, in MB. */
export const peakRssMb = (pid) =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;

export function machine() {
  return (
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ` +
    `${process.version}`
  );
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export function printTable(rows) {
  const headers = Object.keys(rows[0]);
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  console.log(line(headers));
  for (const row of rows) console.log(line(headers.map((h) => row[h])));
}

/**
 * Requests at a fixed `rate` per second for `seconds`, over `connections` keep-alive connections,
 * timed with the high-resolution clock. autocannon's histogram keeps whole milliseconds, too coarse
 * to tell a sub-millisecond overhead. Resolves with latency percentiles in ms (fractional).
 */
export async function fixedRate({ url, headers, body }, { rate, seconds, connections = 8 }) {
  const { Pool } = await import('undici');
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const latencies = [];
  const pending = [];
  const started = performance.now();
  for (let sent = 0; sent < rate * seconds; sent++) {
    const due = started + (sent * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    pending.push(
      pool.request({ path: pathname, method: 'POST', headers, body }).then(async (response) => {
        await response.body.arrayBuffer();
        if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`);
        latencies.push(performance.now() - t0);
      }),
    );
  }
  await Promise.all(pending);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), count: latencies.length };
}
