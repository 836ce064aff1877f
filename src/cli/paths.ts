import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the embedded gateway keeps its store: EMBCTL_DATA_DIR, else the XDG data dir. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EMBCTL_DATA_DIR) return env.EMBCTL_DATA_DIR;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'embctl');
}

/** Where profiles live: EMBCTL_CONFIG_DIR, else the XDG config dir. */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EMBCTL_CONFIG_DIR) return env.EMBCTL_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'embctl');
}
