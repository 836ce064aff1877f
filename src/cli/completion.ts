/**
 * Shell completion (bash, zsh, fish) with @bomb.sh/tab: `embctl completion SHELL` prints the script,
 * which calls `embctl complete -- ARGS` on TAB. Commands, options and fixed choices come from the
 * commander tree; options taking a `<path>`, `<file>` or `<dir>` complete paths; profile names,
 * entity ids, key ids and model ids are dynamic. Those are fetched from the gateway before
 * completing (tab's handlers are synchronous) with a short timeout, cached for a minute, and
 * silently left out when the gateway does not answer.
 */
import type { CommandUnknownOpts, Option } from '@commander-js/extra-typings';
import type { Command as PlainCommand } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { USAGE_GROUPS } from '../core/request-log.js';
import type { CliContext } from './context.js';

const CACHE_FILE = 'completion-cache.json';
const CACHE_TTL_MS = 60_000;
const FETCH_TIMEOUT_MS = 1500;

interface Cache {
  url: string;
  at: number;
  entities: string[];
  keys: string[];
  models: string[];
}

export interface CompletionData {
  profiles: string[];
  entities: string[];
  keys: string[];
  models: string[];
}

/** Fixed values of options that take a list rather than one choice. */
const LIST_VALUES: Record<string, readonly string[]> = {
  by: USAGE_GROUPS,
  status: ['2xx', '4xx', '5xx', '400', '401', '402', '403', '404', '429', '500', '502', '503', '504'],
};

/** tab's directives (cobra's): no file completion unless asked; 0 = files, 16 = directories. */
const FILES = 0;
const DIRECTORIES = 16;

/** Ours, not tab's (which needs the bash-completion package, never completes paths, and cannot be sourced twice). */
const BASH_SCRIPT = new URL('../../completions/embctl.bash', import.meta.url);

/** Profile names from the file; entity ids and model names from the gateway (or the cache). */
export async function completionData(ctx: CliContext): Promise<CompletionData> {
  const profiles = ctx.profiles.list().map(([name]) => name);
  const url = ctx.settings.url;
  if (!url || ctx.settings.embedded) return { profiles, entities: [], keys: [], models: [] };
  const cachePath = join(ctx.profiles.path, '..', CACHE_FILE);
  try {
    const cache = JSON.parse(readFileSync(cachePath, 'utf8')) as Cache;
    if (cache.url === url && Date.now() - cache.at < CACHE_TTL_MS)
      return { profiles, entities: cache.entities, keys: cache.keys ?? [], models: cache.models };
  } catch {
    // no cache yet
  }
  const { GatewayClient } = await import('../client/gateway-client.js');
  const client = new GatewayClient({
    url,
    apiKey: ctx.settings.apiKey,
    adminToken: ctx.settings.adminToken,
    timeoutMs: FETCH_TIMEOUT_MS,
  });
  const admin = <T>(list: () => Promise<T[]>, pick: (item: T) => string[]) =>
    ctx.settings.adminToken
      ? list()
          .then((items) => items.flatMap(pick))
          .catch(() => [])
      : Promise.resolve([]);
  const [entities, keys, models] = await Promise.all([
    admin(
      () => client.listEntities(),
      (e) => [e.id],
    ),
    admin(
      () => client.listKeys(),
      (k) => [k.id, k.name],
    ),
    ctx.settings.apiKey
      ? client
          .models()
          .then((list) => list.map((m) => m.id))
          .catch(() => [])
      : Promise.resolve([]),
  ]);
  await client.close();
  try {
    writeFileSync(cachePath, JSON.stringify({ url, at: Date.now(), entities, keys, models } satisfies Cache), {
      mode: 0o600,
    });
  } catch {
    // completion must never fail over a cache
  }
  return { profiles, entities, keys, models };
}

type Complete = (value: string, description: string) => void;
const offer = (values: string[]) => (complete: Complete) => {
  for (const v of values) complete(v, '');
};

/** Every command below `root` with its space-separated path, as tab names them (`models apply`). */
function commandTree(root: CommandUnknownOpts, path = ''): { path: string; options: readonly Option[] }[] {
  return [
    { path, options: root.options },
    ...root.commands.flatMap((c) => commandTree(c, path ? `${path} ${c.name()}` : c.name())),
  ];
}

/** Adds the `completion` and hidden `complete` commands, with dynamic values when `data` is given. */
export async function installCompletion(program: CommandUnknownOpts, data: CompletionData | undefined): Promise<void> {
  const { default: tab } = await import('@bomb.sh/tab/commander');
  // The same object: extra-typings only adds types over commander's class.
  const root = tab(program as unknown as PlainCommand, { completionCommandName: 'completion' });
  const completion = program.commands.find((c) => c.name() === 'completion')!;
  const tabAction = (completion as unknown as { _actionHandler: (args: unknown[]) => void })._actionHandler;
  completion.action((...args: unknown[]) => {
    if (args[0] === 'bash') process.stdout.write(readFileSync(BASH_SCRIPT, 'utf8'));
    else tabAction.call(completion, args);
  });
  // Global options (-o, --profile, --url, …) are accepted after any subcommand: offer them there too.
  for (const command of root.commands.values()) {
    for (const [name, option] of root.options) if (!command.options.has(name)) command.options.set(name, option);
  }
  // Options whose value is a path leave the completion to the shell's own path completion.
  let directive: number | undefined;
  const tabRoot = root as unknown as { complete(word: string): void };
  const complete = tabRoot.complete.bind(root);
  tabRoot.complete = (word) => (directive === undefined ? complete(word) : console.log(`:${directive}`));
  for (const command of commandTree(program)) {
    const tabCommand = command.path ? root.commands.get(command.path) : root;
    for (const option of command.options) {
      const placeholder = /<(path|file|dir)>/.exec(option.flags)?.[1];
      const tabOption = tabCommand?.options.get(option.long?.slice(2) ?? '');
      if (!tabOption) continue;
      if (placeholder) tabOption.handler = () => void (directive = placeholder === 'dir' ? DIRECTORIES : FILES);
      const values = LIST_VALUES[option.long?.slice(2) ?? ''];
      if (values) tabOption.handler = offer([...values]);
    }
  }
  if (!data) return;
  const setArgument = (command: string, argument: string, values: string[]) => {
    const arg = root.commands.get(command)?.arguments.get(argument);
    if (arg) arg.handler = offer(values);
  };
  for (const command of [
    'models get',
    'models update',
    'models delete',
    'models enable',
    'models disable',
    'models constrain',
  ])
    setArgument(command, 'id', data.entities);
  for (const command of ['profile use', 'profile show', 'profile remove']) setArgument(command, 'name', data.profiles);
  for (const command of ['keys get', 'keys update', 'keys revoke', 'keys delete', 'keys constrain'])
    setArgument(command, 'key', data.keys);
  for (const command of [root, ...root.commands.values()]) {
    const profile = command.options.get('profile');
    if (profile) profile.handler = offer(data.profiles);
    const model = command.options.get('model');
    if (model && (command.value === 'embed' || command.value === 'search')) model.handler = offer(data.models);
  }
}
