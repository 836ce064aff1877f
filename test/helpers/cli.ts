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
