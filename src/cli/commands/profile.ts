import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { GatewayClient } from '../../client/gateway-client.js';
import { confirmDestructive, handle, type MakeContext, readStdinSecret } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import { redactProfile, type Profile } from '../profiles.js';

export interface ProfileAddOptions {
  url?: string;
  model?: string;
  use?: boolean;
  check: boolean;
}

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DEFAULT_URL = 'http://127.0.0.1:8080';

function checkName(name: string): string {
  if (!PROFILE_NAME.test(name))
    throw usageError(`'${name}' is not a valid profile name`, 'use letters, digits, _ . - (at most 64)');
  return name;
}

function checkUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return url.replace(/\/+$/, '');
  } catch {
    // fall through to the error below
  }
  throw usageError(`'${url}' is not an http(s) URL`, 'e.g. --url http://127.0.0.1:8080');
}

/** Calls the gateway with what is about to be saved, so a typo fails now rather than at 3 a.m. */
async function verify(profile: Profile, timeoutMs: number): Promise<string[]> {
  const client = new GatewayClient({
    url: profile.url!,
    apiKey: profile.apiKey,
    adminToken: profile.adminToken,
    timeoutMs,
  });
  try {
    const health = await client.health();
    const notes = [`gateway ${profile.url} answers (embctl ${health.version})`];
    if (profile.apiKey) notes.push(`API key accepted (${(await client.models()).length} model(s) available)`);
    if (profile.adminToken)
      notes.push(`admin token accepted (${(await client.listEntities()).length} embedding model(s))`);
    return notes;
  } finally {
    await client.close();
  }
}

export async function profileAdd(
  nameArg: string | undefined,
  options: ProfileAddOptions,
  ctx: CliContext,
): Promise<void> {
  const { prompt, out, profiles } = ctx;
  const name = checkName(
    nameArg ??
      (await prompt.input({
        message: 'Profile name:',
        default: 'default',
        validate: (v) => PROFILE_NAME.test(v) || 'letters, digits, _ . -',
      })),
  );
  const url = checkUrl(
    options.url ??
      (ctx.interactive ? await prompt.input({ message: 'Gateway URL:', default: DEFAULT_URL }) : DEFAULT_URL),
  );
  // Given by flag, stdin or file (global options); asked for on a terminal otherwise.
  const apiKey =
    ctx.given.apiKey ??
    (ctx.interactive ? (await prompt.secret({ message: 'API key (emb_…, empty to skip):' })) || undefined : undefined);
  const adminToken =
    ctx.given.adminToken ??
    (ctx.interactive
      ? (await prompt.secret({ message: 'Admin token (embadm_…, empty to skip):' })) || undefined
      : undefined);
  const profile: Profile = {
    url,
    ...(apiKey ? { apiKey } : {}),
    ...(adminToken ? { adminToken } : {}),
    ...(options.model ? { model: options.model } : {}),
  };

  if (options.check) {
    try {
      for (const note of await verify(profile, ctx.settings.timeoutMs)) out.success(note);
    } catch (error) {
      if (error instanceof CliError)
        throw new CliError(
          `not saved: ${error.message}`,
          error.exitCode,
          `${error.hint ? `${error.hint}; ` : ''}or pass --no-check to save it anyway`,
        );
      throw error;
    }
  }
  if (profiles.get(name) && !ctx.yes) {
    await confirmDestructive(ctx, `replace the existing profile '${name}'`);
  }
  profiles.set(name, profile);
  if (options.use || !profiles.current) profiles.current = name;
  out.success(`saved profile '${name}' in ${profiles.path}${profiles.current === name ? ' (current)' : ''}`);
  out.item({ name, ...redactProfile(profile) });
}

function requireProfile(ctx: CliContext, name: string): Profile {
  const profile = ctx.profiles.get(name);
  if (!profile)
    throw new CliError(`no profile named '${name}'`, ExitCode.notFound, 'list them with `embctl profile list`');
  return profile;
}

export async function profileList(ctx: CliContext): Promise<void> {
  const current = ctx.profiles.current;
  const rows = ctx.profiles
    .list()
    .map(([name, profile]) => ({ name, current: name === current, ...redactProfile(profile) }));
  ctx.out.list(rows, [
    { header: '', value: (r) => (r.current ? '*' : '') },
    { header: 'name', value: (r) => r.name },
    { header: 'gateway', value: (r) => (r.embedded && !r.url ? `embedded (${r.dataDir})` : r.url) },
    { header: 'api key', value: (r) => r.apiKey ?? '' },
    { header: 'admin token', value: (r) => r.adminToken ?? '' },
    { header: 'model', value: (r) => r.model ?? '' },
  ]);
}

export async function profileUse(name: string, ctx: CliContext): Promise<void> {
  requireProfile(ctx, name);
  ctx.profiles.current = name;
  ctx.out.success(`now using profile '${name}'`);
}

export interface ProfileShowOptions {
  /** Print the secrets in clear (on stdout, for a script or a copy; never written anywhere else). */
  reveal?: boolean;
  /** Print only this field's value, raw: `$(embctl profile show --reveal --field apiKey)`. */
  field?: string;
}

export async function profileShow(
  name: string | undefined,
  options: ProfileShowOptions,
  ctx: CliContext,
): Promise<void> {
  const target = name ?? ctx.settings.profileName;
  if (!target)
    throw new CliError(
      'no profile is set up yet',
      ExitCode.notFound,
      'add one with `embctl profile add`, or run `embctl gateway start`',
    );
  const profile = requireProfile(ctx, target);
  const shown = options.reveal ? profile : redactProfile(profile);
  if (options.field) {
    const value = (shown as Record<string, unknown>)[options.field];
    if (value === undefined) {
      throw usageError(
        `profile '${target}' has no field '${options.field}'`,
        `fields: ${Object.keys(profile).join(', ')}`,
      );
    }
    ctx.out.text(String(value));
    return;
  }
  ctx.out.item({ name: target, current: ctx.profiles.current === target, file: ctx.profiles.path, ...shown });
}

export async function profileRemove(name: string, ctx: CliContext): Promise<void> {
  requireProfile(ctx, name);
  await confirmDestructive(ctx, `remove profile '${name}'`);
  ctx.profiles.remove(name);
  ctx.out.success(`removed profile '${name}'`);
}

const SETTABLE = ['url', 'apiKey', 'adminToken', 'model', 'dataDir', 'embedded'] as const;
type Settable = (typeof SETTABLE)[number];

/** A model pinned in a profile must be one its gateway serves to its key: checked there, unless told not to. */
async function checkPinnedModel(model: string, name: string, ctx: CliContext): Promise<void> {
  const profile = ctx.profiles.get(name);
  if (!ctx.settings.url && profile?.embedded !== true && profile?.dataDir === undefined) {
    ctx.out.warn(`model not checked: profile '${name}' has no gateway yet`);
    return;
  }
  try {
    const routed = await (await ctx.client()).model(model);
    ctx.out.success(`the gateway serves '${model}' (${routed.id})`);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    throw new CliError(
      `profile '${name}' not changed: ${error.message}`,
      error.exitCode,
      error.exitCode === ExitCode.notFound
        ? '`embctl models list` shows the models this key may use; --no-check saves it anyway'
        : `${error.hint ? `${error.hint}; ` : ''}--no-check saves it without asking the gateway`,
      error.details,
    );
  }
}

export async function profileSet(
  key: string,
  value: string,
  options: { check: boolean },
  ctx: CliContext,
): Promise<void> {
  if (!(SETTABLE as readonly string[]).includes(key))
    throw usageError(`unknown profile setting '${key}'`, `one of: ${SETTABLE.join(', ')}`);
  const name = ctx.settings.profileName ?? 'default';
  const resolved = value === '-' ? await readStdinSecret(ctx.stdin, "'-' (stdin)") : value;
  const profile: Profile = { ...ctx.profiles.get(name) };
  switch (key as Settable) {
    case 'url':
      profile.url = checkUrl(resolved);
      profile.embedded = false;
      break;
    case 'embedded':
      if (resolved !== 'true' && resolved !== 'false')
        throw usageError(`embedded takes true or false; got '${resolved}'`);
      profile.embedded = resolved === 'true';
      break;
    case 'model':
      if (options.check) await checkPinnedModel(resolved, name, ctx);
      profile.model = resolved;
      break;
    default:
      profile[key as 'apiKey' | 'adminToken' | 'dataDir'] = resolved;
  }
  ctx.profiles.set(name, profile);
  ctx.profiles.current ??= name;
  ctx.out.success(`profile '${name}': ${key} set`);
  ctx.out.item({ name, ...redactProfile(profile) });
}

export function registerProfileCommands(program: Root, makeContext: MakeContext): void {
  const profile = program.command('profile').description('manage profiles: saved gateway URLs and credentials');
  handle(
    profile
      .command('add')
      .description('add a profile (a wizard on a terminal; flags otherwise)')
      .argument('[name]', 'profile name')
      .option('-m, --model <model>', 'pinned model for embed and search')
      .option('--use', 'make it the current profile')
      .option('--no-check', 'save without calling the gateway first'),
    makeContext,
    (options, ctx, name) => profileAdd(name, options, ctx),
  );
  handle(
    profile.command('list').alias('ls').description('list profiles (* marks the current one)'),
    makeContext,
    (_o, ctx) => profileList(ctx),
  );
  handle(
    profile.command('use').argument('<name>').description('make a profile the current one'),
    makeContext,
    (_o, ctx, name) => profileUse(name, ctx),
  );
  handle(
    profile
      .command('show')
      .argument('[name]')
      .description('show a profile, secrets redacted (--reveal shows them)')
      .option('--reveal', 'show the API key and admin token in clear')
      .option('--field <name>', 'print only this field, raw (e.g. apiKey, with --reveal)'),
    makeContext,
    (o, ctx, name) => profileShow(name, o, ctx),
  );
  handle(
    profile.command('remove').alias('rm').argument('<name>').description('remove a profile'),
    makeContext,
    (_o, ctx, name) => profileRemove(name, ctx),
  );
  handle(
    profile
      .command('set')
      .argument('<key>', SETTABLE.join('|'))
      .argument('<value>', 'the value; - reads it from stdin (for secrets)')
      .description('set one setting of the selected profile (--profile, else the current one)')
      .option('--no-check', 'model: save it without asking the gateway whether it serves it'),
    makeContext,
    (options, ctx, key, value) => profileSet(key, value, options, ctx),
  );
}
