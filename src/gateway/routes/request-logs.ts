/**
 * Request Logs over the admin API: filtered pages (newest first, cursor), one row, a live
 * Server-Sent-Events stream that resumes from `Last-Event-ID`, aggregated usage, and `/metrics`.
 */
import type { FastifyInstance } from 'fastify';
import { invalidRequest } from '../../core/errors.js';
import { formatIssues } from '../../core/entity.js';
import {
  LOG_FILTER_PARAMS,
  USAGE_GROUPS,
  matchesFilter,
  parseLogFilter,
  type LogFilter,
  type StoredLogRow,
  type UsageGroup,
} from '../../core/request-log.js';
import type { GatewayContext } from '../context.js';
import { adminScope, notFound, queryInt, type Query } from './admin-scope.js';

const REPLAY_LIMIT = 10_000;
const DEFAULT_HEARTBEAT_S = 15;

function filterOf(query: Query): LogFilter {
  const { filter, issues } = parseLogFilter(Object.fromEntries(LOG_FILTER_PARAMS.map((p) => [p, query[p]])));
  if (issues.length)
    throw invalidRequest(`Invalid filter: ${formatIssues(issues)}.`, issues[0]!.field, 'invalid_filter');
  return filter;
}

function groupsOf(value: string | undefined): UsageGroup[] {
  const groups = (value ?? 'model')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const bad = groups.filter((g) => !(USAGE_GROUPS as readonly string[]).includes(g));
  if (bad.length)
    throw invalidRequest(
      `'group_by' takes ${USAGE_GROUPS.join(', ')} (comma-separated); got '${bad.join(',')}'.`,
      'group_by',
      'invalid_value',
    );
  return groups as UsageGroup[];
}

const sseEvent = (row: StoredLogRow) => `id: ${row.seq}\nevent: log\ndata: ${JSON.stringify(row)}\n\n`;

export function registerRequestLogRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const { store } = ctx;

  app.get('/metrics', async (_req, reply) => {
    void reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  adminScope(app, ctx, ['/v1/request-logs'], (scope) => {
    scope.get<{ Querystring: Query }>('/', async (req) => {
      const filter = filterOf(req.query);
      const limit = queryInt(req.query, 'limit', 100, 1, 1000);
      const cursor =
        req.query.cursor === undefined ? undefined : queryInt(req.query, 'cursor', 0, 1, Number.MAX_SAFE_INTEGER);
      // Rows still in the write buffer belong to calls that already answered: show them.
      await ctx.logs.flush();
      const page = await store.logs.page(filter, limit, cursor);
      return {
        object: 'list',
        data: page.rows,
        next_cursor: page.nextCursor === undefined ? null : String(page.nextCursor),
        has_more: page.nextCursor !== undefined,
      };
    });

    scope.get<{ Querystring: Query }>('/stream', async (req, reply) => {
      const filter = filterOf(req.query);
      const heartbeatMs = queryInt(req.query, 'heartbeat', DEFAULT_HEARTBEAT_S, 1, 300) * 1000;
      const resumeFrom = Number(req.headers['last-event-id'] ?? req.query.after);
      const res = reply.raw;
      let highest = Number.isFinite(resumeFrom) ? resumeFrom : Number.NEGATIVE_INFINITY;
      const send = (rows: StoredLogRow[]) => {
        for (const row of rows) {
          if (row.seq <= highest) continue;
          highest = row.seq;
          if (matchesFilter(row, filter)) res.write(sseEvent(row));
        }
      };
      // Rows stored while the backlog is replayed wait here, so none is lost or sent twice.
      let pending: StoredLogRow[] | undefined = [];
      // Subscribed before ': connected': a row stored after the client hears it is delivered.
      const unsubscribe = await ctx.tail.subscribe(
        (rows) => (pending ? pending.push(...rows) : send(rows)),
        () => res.end(),
      );
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
      res.write('retry: 1000\n: connected\n\n');
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
      req.raw.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });

      if (Number.isFinite(resumeFrom)) {
        await ctx.logs.flush();
        let replayed = 0;
        for (;;) {
          const rows = await store.logs.after(filter, highest, 1000);
          send(rows);
          replayed += rows.length;
          if (rows.length < 1000 || replayed >= REPLAY_LIMIT) break;
        }
      }
      const waiting = pending;
      pending = undefined;
      send(waiting);
    });

    scope.get<{ Params: { id: string } }>('/:id', async (req) => {
      await ctx.logs.flush();
      const row = await store.logs.get(req.params.id);
      if (!row)
        throw notFound(
          'Request log',
          req.params.id,
          'The id is the x-request-id of the call; rows older than the retention period are deleted.',
        );
      return row;
    });
  });

  adminScope(app, ctx, ['/v1/usage'], (scope) => {
    scope.get<{ Querystring: Query }>('/', async (req) => {
      const query = { since: '30d', ...req.query };
      const filter = filterOf(query);
      const groupBy = groupsOf(req.query.group_by);
      await ctx.logs.flush();
      const [data, [totals]] = await Promise.all([store.logs.usage(filter, groupBy), store.logs.usage(filter, [])]);
      return {
        object: 'usage',
        since: filter.since === undefined ? null : new Date(filter.since).toISOString(),
        until: new Date(filter.until ?? Date.now()).toISOString(),
        group_by: groupBy,
        data,
        totals: totals ?? {
          requests: 0,
          errors: 0,
          inputs: 0,
          prompt_tokens: 0,
          cost_usd: 0,
          cached_inputs: 0,
          cached_tokens: 0,
          cost_saved_usd: 0,
        },
      };
    });
  });
}
