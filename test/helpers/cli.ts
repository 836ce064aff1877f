/** Runs the built CLI (`bin/embctl`) as a user would: a separate process, CI=true, no colours. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin', 'embctl');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `embctl-test-${prefix}-`));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh, isolated environment: its own config dir and data dir, nothing inherited that could leak in. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = tempDir('home');
  return {
    PATH: process.env.PATH ?? '',
    HOME: home,
    CI: 'true',
    NO_COLOR: '1',
    EMBCTL_CONFIG_DIR: join(home, 'config'),
    EMBCTL_DATA_DIR: join(home, 'data'),
    ...extra,
  };
}

export function runCli(
  args: string[],
  options: { env: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: options.env,
      cwd: options.cwd ?? ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `embctl logs tail -f …` as a child process: its NDJSON lines, the moment it says it follows, Ctrl-C. */
export function spawnTail(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'logs', 'tail', '-f', ...args], {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    output: () => out,
    ids: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: string }).id),
    /** Resolves once the CLI is connected: a row stored after that is new to it. */
    async following(withinMs = 15_000): Promise<void> {
      for (const deadline = Date.now() + withinMs; !err.includes('following the Request Logs'); ) {
        if (Date.now() > deadline) throw new Error(`tail did not connect: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** Ctrl-C; resolves with the exit code. */
    interrupt(): Promise<number | null> {
      child.kill('SIGINT');
      return exited;
    },
  };
}
