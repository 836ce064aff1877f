/** Starts the built gateway with `bin/embctl gateway start` on an ephemeral loopback port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, isolatedEnv } from './cli.js';

export interface SpawnedGateway {
  url: string;
  apiKey: string;
  adminToken: string;
  env: Record<string, string>;
  process: ChildProcess;
  output: () => string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function spawnGateway(
  options: { env?: Record<string, string>; args?: string[] } = {},
): Promise<SpawnedGateway> {
  const env = options.env ?? isolatedEnv();
  const child = spawn(process.execPath, [BIN, 'gateway', 'start', '--port', '0', ...(options.args ?? [])], {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const match = /listening on (https?:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then((code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
  });
  // A gateway that was not the first over its store saved no profile: it knows no secrets.
  const configPath = join(env.EMBCTL_CONFIG_DIR!, 'config.json');
  const config = (existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : { profiles: {} }) as {
    profiles: Record<string, { apiKey: string; adminToken: string }>;
  };
  const local = config.profiles.local ?? { apiKey: '', adminToken: '' };
  return {
    url,
    apiKey: local.apiKey,
    adminToken: local.adminToken,
    env,
    process: child,
    output: () => output,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      // One signal only: a second one during graceful shutdown means "stop now".
      if (!child.killed && child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
