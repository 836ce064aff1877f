/**
 * `embctl index list|info|alias|unalias|prune`: the indexes embctl writes, where each lives, what
 * made it, how big it is; the aliases that name them, what each points at, and migrations under way.
 */
import { CliError, ExitCode } from '../../core/errors.js';
import { confirmDestructive, handle, type MakeContext } from '../command.js';
import type { CliContext } from '../context.js';
import type { Root } from '../program.js';
import type { Column } from '../output.js';
import { aliasRegistry, isAliasName, pointed, resolveIndex, type Alias } from '../index/aliases.js';
import { openTarget, type IndexTarget } from '../index/target.js';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What an index holds, read from the index itself. */
async function describe(spec: string) {
  const target = await openTarget(spec);
  const meta = target.meta();
  if (!meta) return undefined;
  return {
    index: target.absolute,
    model: meta.model,
    requested_model: meta.requested_model,
    dimensions: meta.dimensions,
    vector_format: meta.vector_format,
    text: meta.text,
    metadata_fields: meta.metadata_fields ?? [],
    rows: await target.count(),
    size_bytes: await target.size(),
    created_at: meta.created_at,
    updated_at: meta.updated_at,
  };
}

/** A migration under way: where it writes, with what, and how far it is. */
async function progressOf(alias: Alias) {
  if (!alias.migration) return undefined;
  const [written, total] = await Promise.all([
    (await openTarget(alias.migration.to)).count(),
    (await openTarget(alias.target)).count(),
  ]);
  return { ...alias.migration, records: written, of: total };
}

interface ListedAlias {
  alias: string;
  index: string;
  model: string;
  dimensions: number | null;
  rows: number | null;
  size_bytes: number | null;
  previous: string | null;
  migration: Awaited<ReturnType<typeof progressOf>> | null;
}

const COLUMNS: Column<ListedAlias>[] = [
  { header: 'alias', value: (a) => a.alias },
  { header: 'index', value: (a) => a.index },
  { header: 'model', value: (a) => a.model },
  { header: 'dims', value: (a) => a.dimensions ?? '' },
  { header: 'rows', value: (a) => a.rows?.toLocaleString('en-US') ?? '' },
  { header: 'size', value: (a) => (a.size_bytes === null ? '' : formatBytes(a.size_bytes)) },
  {
    header: 'migration',
    value: (a) =>
      a.migration
        ? `→ ${a.migration.model}: ${a.migration.records.toLocaleString('en-US')}/${a.migration.of.toLocaleString('en-US')}`
        : '',
  },
];

export async function listIndexes(ctx: CliContext): Promise<void> {
  const listed: ListedAlias[] = [];
  for (const alias of aliasRegistry(ctx.env).list()) {
    const described = await describe(alias.target);
    listed.push({
      alias: alias.name,
      index: alias.target,
      model: described?.model ?? '(missing)',
      dimensions: described?.dimensions ?? null,
      rows: described?.rows ?? null,
      size_bytes: described?.size_bytes ?? null,
      previous: alias.previous ?? null,
      migration: (await progressOf(alias)) ?? null,
    });
  }
  ctx.out.list(listed, COLUMNS);
  if (listed.length === 0)
    ctx.out.info('no index aliases yet: `embctl index alias NAME TARGET` names an index that `embed --out` wrote');
}

export async function indexInfo(spec: string, ctx: CliContext): Promise<void> {
  const registry = aliasRegistry(ctx.env);
  const { spec: resolved, alias } = resolveIndex(spec, registry);
  const described = await describe(resolved);
  if (!described)
    throw new CliError(
      alias ? `the alias '${spec}' points at ${resolved}, which holds no index` : `no index at '${spec}'`,
      ExitCode.notFound,
      alias
        ? `repoint it: embctl index alias ${spec} TARGET --force`
        : 'make one with `embctl embed -f FILE --out TARGET`',
    );
  const aliases = registry
    .list()
    .filter((a) => a.target === described.index)
    .map((a) => a.name);
  ctx.out.item({
    ...described,
    aliases,
    ...(alias
      ? {
          previous: alias.previous ?? null,
          migration: (await progressOf(alias)) ?? null,
          history: alias.history.map((h) => `${h.at} ${h.event} → ${h.target}`),
        }
      : {}),
  });
}

export async function setAlias(name: string, spec: string, force: boolean | undefined, ctx: CliContext): Promise<void> {
  const registry = aliasRegistry(ctx.env);
  if (!isAliasName(name))
    throw new CliError(
      `'${name}' is not an alias name`,
      ExitCode.usage,
      'use letters, digits, - and _ (at most 64): an alias has no path or prefix, so it never reads as a file',
    );
  const target = await openTarget(resolveIndex(spec, registry).spec);
  if (!target.meta())
    throw new CliError(
      `no index at '${spec}'`,
      ExitCode.notFound,
      'an alias names an index `embctl embed --out` wrote: write it first',
    );
  const existing = registry.get(name);
  if (existing && existing.target !== target.absolute && !force)
    throw new CliError(
      `the alias '${name}' points at ${existing.target}`,
      ExitCode.conflict,
      `to move it to another model's index use embctl migrate ${name} --model MODEL (it verifies first); ` +
        'pass --force to repoint it as is',
    );
  if (existing?.migration && force)
    throw new CliError(
      `'${name}' is being migrated to ${existing.migration.to}`,
      ExitCode.conflict,
      `finish or abandon it first (embctl migrate ${name} --abandon)`,
    );
  if (existing?.target === target.absolute) {
    ctx.out.info(`${name} already points at ${target.absolute}`);
    return;
  }
  registry.save(
    existing
      ? pointed(existing, target.absolute, 'repointed', existing.target)
      : {
          name,
          target: target.absolute,
          history: [{ event: 'created', target: target.absolute, at: new Date().toISOString() }],
        },
  );
  ctx.out.success(`${name} → ${target.absolute}`);
}

export async function removeAlias(name: string, ctx: CliContext): Promise<void> {
  const registry = aliasRegistry(ctx.env);
  const alias = registry.require(name);
  if (alias.migration)
    throw new CliError(
      `'${name}' is being migrated to ${alias.migration.to}`,
      ExitCode.conflict,
      `finish or abandon it first (embctl migrate ${name} --abandon)`,
    );
  registry.remove(name);
  ctx.out.success(`removed the alias '${name}' (${alias.target} itself is kept)`);
}

/**
 * Deletes the indexes an alias pointed at before and no longer does (rollback is then impossible),
 * never one that it, another alias, or a migration under way points at.
 */
export async function pruneIndexes(name: string, ctx: CliContext): Promise<void> {
  const registry = aliasRegistry(ctx.env);
  const alias = registry.require(name);
  // Who else needs each index: another alias (now, or to roll back to), or a migration under way.
  const users = new Map<string, string[]>();
  const use = (spec: string, why: string) => users.set(spec, [...(users.get(spec) ?? []), why]);
  for (const other of registry.list()) {
    use(other.target, `alias '${other.name}' points at it`);
    if (other.migration) use(other.migration.to, `the migration of '${other.name}' writes it`);
    if (other.name !== name && other.previous) use(other.previous, `alias '${other.name}' rolls back to it`);
  }
  const history = [...new Set(alias.history.map((h) => h.target))];
  const retired = history.filter((spec) => !users.has(spec));
  for (const spec of history)
    if (spec !== alias.target && users.has(spec)) ctx.out.info(`kept ${spec}: ${users.get(spec)!.join('; ')}`);
  const existing: { target: IndexTarget; bytes: number }[] = [];
  for (const spec of retired) {
    const target = await openTarget(spec);
    if (target.meta()) existing.push({ target, bytes: await target.size() });
  }
  if (existing.length === 0) {
    ctx.out.info(
      `nothing to prune for '${name}': it points at ${alias.target}, and no earlier index of it is left to delete`,
    );
    return;
  }
  await confirmDestructive(
    ctx,
    `delete ${existing.map((e) => e.target.absolute).join(', ')} (${name} can no longer roll back to them)`,
  );
  await registry.withLock(name, ctx.host, () => {
    for (const { target } of existing) target.remove();
    const current = registry.require(name);
    if (current.previous && retired.includes(current.previous)) {
      const { previous: _, ...rest } = current;
      registry.save(rest);
    }
  });
  const freed = existing.reduce((sum, e) => sum + e.bytes, 0);
  const inSqlite = existing.some((e) => e.target.absolute.startsWith('sqlite:'));
  ctx.out.success(
    `pruned ${existing.length} index(es) of '${name}', ${formatBytes(freed)}` +
      (inSqlite
        ? ' (a SQLite file reuses the freed pages for later writes; `VACUUM` would return them to the disk)'
        : ''),
  );
}

export function registerIndexCommands(program: Root, makeContext: MakeContext): void {
  const index = program
    .command('index')
    .description('the indexes `embed --out` writes, and the aliases `search` and `migrate` resolve');
  handle(
    index
      .command('list')
      .description('every alias: its index, model, dimensions, rows, size, and migrations under way'),
    makeContext,
    (_o, ctx) => listIndexes(ctx),
  );
  handle(
    index
      .command('info')
      .description('one index, by alias or target: where it lives, what made it, rows, size, aliases, history')
      .argument('<index>', 'an alias, or FILE.jsonl, sqlite:FILE.db#collection, lancedb:DIR#table'),
    makeContext,
    (_o, ctx, spec) => indexInfo(spec, ctx),
  );
  handle(
    index
      .command('alias')
      .description('name an index, so that `search --index NAME` and `embctl migrate NAME` find it')
      .argument('<name>', 'the alias: letters, digits, - and _')
      .argument('<target>', 'the index: FILE.jsonl, sqlite:FILE.db#collection, lancedb:DIR#table')
      .option('--force', 'repoint an existing alias as is (no verification: `embctl migrate` verifies)'),
    makeContext,
    (options, ctx, name, target) => setAlias(name, target, options.force, ctx),
  );
  handle(
    index.command('unalias').description('forget an alias (the index stays)').argument('<name>', 'the alias'),
    makeContext,
    (_o, ctx, name) => removeAlias(name, ctx),
  );
  handle(
    index
      .command('prune')
      .description('delete the indexes an alias pointed at before its last cutovers (no rollback after this)')
      .argument('<alias>', 'the alias whose old indexes go'),
    makeContext,
    (_o, ctx, name) => pruneIndexes(name, ctx),
  );
}
