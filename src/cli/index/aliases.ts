/**
 * Index aliases: a name (`docs`) that `search --index`, `embed --out` and `embctl index` resolve to
 * the index it points at, one JSON pointer file each in `<config dir>/indexes/`. A migration's
 * cutover rewrites that file by an atomic rename, so a reader sees the old index or the new one,
 * never a mix; the alias also remembers the index it pointed at before (`--rollback`) and the
 * migration under way, if any.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { defaultConfigDir } from '../paths.js';
import { isAlive, type HostProcess } from '../context.js';

export interface Migration {
  /** The index being written (absolute spec). */
  to: string;
  model: string;
  dimensions?: number;
  started_at: string;
}

export interface AliasEvent {
  event: 'created' | 'cutover' | 'rollback' | 'repointed';
  target: string;
  at: string;
}

export interface Alias {
  name: string;
  /** The index it resolves to now (absolute spec). */
  target: string;
  /** The index it pointed at before the last cutover: what `--rollback` restores. */
  previous?: string;
  migration?: Migration;
  history: AliasEvent[];
}

const ALIAS_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether `spec` could name an alias: no path separator, no target prefix, no extension. */
export const isAliasName = (spec: string) => ALIAS_NAME.test(spec);

export class AliasRegistry {
  constructor(readonly dir: string) {}

  private path(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  get(name: string): Alias | undefined {
    if (!isAliasName(name)) return undefined;
    const path = this.path(name);
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Alias;
    } catch {
      throw new CliError(
        `the alias file ${path} is not valid JSON`,
        ExitCode.failure,
        `remove it and recreate the alias: embctl index alias ${name} TARGET`,
      );
    }
  }

  /** The alias, or an error naming it and how to make one. */
  require(name: string): Alias {
    const alias = this.get(name);
    if (!alias)
      throw new CliError(
        `there is no index alias '${name}'`,
        ExitCode.notFound,
        `create one: embctl index alias ${isAliasName(name) ? name : 'NAME'} TARGET (embctl index list shows them)`,
      );
    return alias;
  }

  list(): Alias[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((file) => file.endsWith('.json'))
      .map((file) => this.get(file.slice(0, -'.json'.length)))
      .filter((alias): alias is Alias => alias !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Written to a temporary file, synced, then renamed over the old one: readers see one or the other. */
  save(alias: Alias): void {
    if (!isAliasName(alias.name))
      throw usageError(
        `'${alias.name}' is not an alias name`,
        'use letters, digits, - and _ (at most 64), e.g. docs or docs-prod',
      );
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = this.path(alias.name);
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(alias, null, 2)}\n`, { mode: 0o600 });
    const fd = openSync(temporary, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
    const dirFd = openSync(this.dir, 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
  }

  remove(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  /**
   * One migration of an alias at a time: a lock file holding the pid. A lock whose process is gone
   * (`kill -9`) is taken over; a live one is refused, naming it.
   */
  lock(name: string, host: HostProcess): () => void {
    this.require(name);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${name}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, String(host.pid));
        closeSync(fd);
        return () => rmSync(path, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(readFileSync(path, 'utf8'));
        if (Number.isInteger(holder) && holder > 0 && holder !== host.pid && isAlive(host, holder))
          throw new CliError(
            `the index alias '${name}' is being migrated by process ${holder}`,
            ExitCode.conflict,
            'wait for it to finish (or stop it: a rerun resumes where it stopped)',
          );
        rmSync(path, { force: true });
      }
    }
    throw new CliError(`could not lock the index alias '${name}' (${path})`, ExitCode.failure, 'try again');
  }

  /** Runs `use` holding the alias's lock, released however `use` ends. */
  async withLock<T>(name: string, host: HostProcess, use: () => T | Promise<T>): Promise<T> {
    const release = this.lock(name, host);
    try {
      return await use();
    } finally {
      release();
    }
  }
}

/** Records that `alias` points at `target` now, and why. */
export function pointed(alias: Alias, target: string, event: AliasEvent['event'], previous?: string): Alias {
  const { migration: _, previous: __, ...rest } = alias;
  return {
    ...rest,
    target,
    ...(previous ? { previous } : {}),
    history: [...alias.history, { event, target, at: new Date().toISOString() }],
  };
}

/** The aliases of this user: `<config dir>/indexes/` (EMBCTL_CONFIG_DIR, else the XDG config dir). */
export const aliasRegistry = (env: NodeJS.ProcessEnv) => new AliasRegistry(join(defaultConfigDir(env), 'indexes'));

/** What `--index`/`--out` names: an alias's index when it is one, else the spec as written. */
export function resolveIndex(spec: string, registry: AliasRegistry): { spec: string; alias?: Alias } {
  const alias = registry.get(spec);
  return alias ? { spec: alias.target, alias } : { spec };
}
