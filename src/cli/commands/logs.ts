/** `embctl logs list|tail|show`: the gateway's Request Logs, filtered, followed live, or one call in full. */
import type { Command } from '@commander-js/extra-typings';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { formatIssues } from '../../core/entity.js';
import { parseLogFilter, type StoredLogRow } from '../../core/request-log.js';
import { sleep } from '../../core/retry.js';
import { handle, integer, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import { stripControl, type Column } from '../output.js';

export interface LogFilterOptions {
  since?: string;
  until?: string;
  model?: string;
  resolvedModel?: string;
  key?: string;
  entity?: string;
  provider?: string;
  status?: string;
  minLatency?: string;
  batch?: string;
}

/** Filters validated here, before any request, with the gateway's own parser; returned as query parameters. */
export function filterQuery(options: LogFilterOptions): Record<string, string | undefined> {
  const params = {
    since: options.since,
    until: options.until,
    model: options.model,
    resolved_model: options.resolvedModel,
    key: options.key,
    entity: options.entity,
    provider: options.provider,
    status: options.status,
    min_latency: options.minLatency,
    batch_id: options.batch,
  };
  const { issues } = parseLogFilter(params);
  if (issues.length) {
    const flag = (field: string) => `--${field.replace(/_/g, '-')}`;
    throw usageError(`invalid filter: ${formatIssues(issues.map((i) => ({ ...i, field: flag(i.field) })))}`);
  }
  return params;
}

const time = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

export const LOG_COLUMNS: Column<StoredLogRow>[] = [
  { header: 'time', value: (r) => time(r.created_at) },
  { header: 'status', value: (r) => (r.error_code ? `${r.status} ${r.error_code}` : r.status) },
  {
    header: 'model',
    value: (r) =>
      `${r.requested_model ?? '-'}${r.resolved_model ? ` → ${r.resolved_model}` : ''}${r.model_mismatch ? ' (!)' : ''}`,
  },
  { header: 'provider', value: (r) => r.provider ?? '' },
  { header: 'inputs', value: (r) => r.input_count },
  { header: 'tokens', value: (r) => `${r.prompt_tokens}${r.usage_estimated ? '~' : ''}` },
  { header: 'latency', value: (r) => `${Math.round(r.latency_ms)} ms` },
  { header: 'cost', value: (r) => (r.cost_usd ? `$${r.cost_usd.toFixed(6)}` : '') },
  { header: 'id', value: (r) => r.id },
];

/** Every string the gateway sent, stripped of control characters: a log line must never drive the terminal. */
function sanitized(row: StoredLogRow): StoredLogRow {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, typeof v === 'string' ? stripControl(v) : v]),
  ) as unknown as StoredLogRow;
}

export async function logsList(options: LogFilterOptions & { limit: number }, ctx: CliContext): Promise<void> {
  const query = filterQuery(options);
  const client = await ctx.client();
  const rows: StoredLogRow[] = [];
  let cursor: string | null = null;
  do {
    const page = await client.logs({
      ...query,
      limit: Math.min(1000, options.limit - rows.length),
      ...(cursor ? { cursor } : {}),
    });
    rows.push(...page.data.map(sanitized));
    cursor = page.next_cursor;
  } while (cursor && rows.length < options.limit);
  ctx.out.list(rows, LOG_COLUMNS);
}

export async function logsShow(id: string, ctx: CliContext): Promise<void> {
  const row = sanitized(await (await ctx.client()).log(id));
  ctx.out.item(row);
  if (row.model_mismatch) {
    ctx.out.warn(
      `the upstream served '${row.resolved_model}', not the '${row.routed_model ?? row.requested_model}' this call was routed to: ` +
        `vectors from it belong to another model`,
    );
  }
}

export interface TailOptions extends LogFilterOptions {
  lines: number;
  follow: boolean;
}

/**
 * The last rows, then the live stream until Ctrl-C. On a lost connection (a gateway restart) it
 * reconnects with the last event id, so the gateway replays exactly what was missed.
 */
export async function logsTail(options: TailOptions, ctx: CliContext): Promise<void> {
  const query = filterQuery(options);
  const { out } = ctx;
  const client = await ctx.client();
  const recent = options.lines > 0 ? (await client.logs({ ...query, limit: options.lines })).data.reverse() : [];
  // A line per call as it happens: aligned text on a terminal, one JSON object per line otherwise (for jq).
  const emit = (row: StoredLogRow) => {
    const clean = sanitized(row);
    out.text(
      out.format === 'table'
        ? LOG_COLUMNS.slice(0, -1)
            .map((c) => String(c.value(clean)))
            .join('  ')
        : JSON.stringify(clean),
    );
  };
  for (const row of recent) emit(row);
  if (!options.follow) return;

  const signal = ctx.interrupted();
  let lastEventId = recent.length ? String(recent[recent.length - 1]!.seq) : undefined;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const onOpen = () => out.info(`following the Request Logs of ${client.url} (Ctrl-C stops)`);
      for await (const row of client.streamLogs(query, lastEventId, signal, onOpen)) {
        failures = 0;
        lastEventId = row.eventId;
        const { eventId, ...rest } = row;
        void eventId;
        emit(rest);
      }
    } catch (error) {
      if (
        !(error instanceof CliError) ||
        (error.exitCode !== ExitCode.unreachable && !(Number(error.details?.status) >= 500))
      )
        throw error;
      if (failures++ === 0) out.warn(`lost the gateway (${error.message}); reconnecting…`);
    }
    if (!signal.aborted) await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)), signal);
  }
}

function filterFlags(command: Command): Command {
  return command
    .option('--since <when>', 'from this long ago (15m, 2h, 7d) or an ISO time')
    .option('--until <when>', 'until this long ago or an ISO time')
    .option('--model <models>', 'requested model(s), comma-separated')
    .option('--resolved-model <models>', 'model(s) the upstream served, comma-separated')
    .option('--key <keys>', 'API key id(s) or name(s), comma-separated')
    .option('--entity <ids>', 'embedding model entity id(s), comma-separated')
    .option('--provider <providers>', 'provider(s), comma-separated')
    .option('--status <statuses>', '2xx, 4xx, 5xx or codes like 429, comma-separated')
    .option('--min-latency <ms>', 'only calls at least this slow')
    .option('--batch <ids>', 'calls made by these batch jobs (`embctl jobs list`), comma-separated');
}

export function registerLogCommands(program: Root, makeContext: MakeContext): void {
  const logs = program
    .command('logs')
    .description('Request Logs: which model served each call, its tokens, latency and cost');
  handle(
    filterFlags(
      logs.command('list').alias('ls').description('list calls, newest first (flags AND together; comma lists OR)'),
    ).option('-n, --limit <n>', 'at most this many', integer('--limit', 1, 100_000), 50),
    makeContext,
    (options, ctx) => logsList(options, ctx),
  );
  handle(
    filterFlags(logs.command('tail').description('print recent calls, then follow new ones live until Ctrl-C'))
      .option('-n, --lines <n>', 'recent calls to print first', integer('--lines', 0, 1000), 10)
      .option('-f, --follow', 'keep following (the default)', true)
      .option('--no-follow', 'print the recent calls and exit'),
    makeContext,
    (options, ctx) => logsTail(options, ctx),
  );
  handle(
    logs.command('show').argument('<id>', 'the request id (x-request-id)').description('one call in full'),
    makeContext,
    (_o, ctx, id) => logsShow(id, ctx),
  );
}
