/**
 * Runs batch jobs inside the gateway. Each gateway claims a slice of lines from the store (leased
 * to it, renewed while it works; a crashed gateway's lease runs out and another takes the lines
 * over), groups lines that ask for the same model and options into one upstream call, runs at
 * most `concurrency` such calls at once (room left for live traffic), and records each line's
 * result in the same transaction that counts it. Every call goes through the live path: the
 * owner key's constraints, limits (within `rateShare` of its rpm/tpm) and budgets, the cache, and
 * one Request Log row tagged with the batch id. At a rate limit the job's lines are held back a
 * while (its `note` says why; other jobs run meanwhile); at a spent budget the job fails, saying
 * so; at the end of its window it expires. When no line is left, one gateway makes the output and
 * error files (views of the results) and ends the job.
 *
 * Delivery: each line's result is recorded exactly once. A line is sent upstream again only if a
 * gateway dies (or loses its lease) between the upstream's answer and the record — at most the
 * lines it had in flight.
 */
import { randomId } from '../core/secrets.js';
import { ApiError } from '../core/errors.js';
import { apportionTokens } from '../core/cache-key.js';
import { sleep } from '../core/retry.js';
import type { BatchItem, BatchResult, StoredBatch } from '../store/store.js';
import type { KnownKey } from './catalogue.js';
import type { GatewayContext } from './context.js';
import { embedCall, logRowOf, type CallTrace } from './embed-call.js';
import { serializeEmbeddings } from './serialize.js';

export interface BatchRunnerOptions {
  /** This gateway among those sharing the store. */
  worker: string;
  leaseMs: number;
  /** Lines claimed at once. */
  claimSize: number;
  /** Upstream calls in flight at once for batches, per gateway. */
  concurrency: number;
  /** Inputs merged into one call at most. */
  maxGroupInputs: number;
  /** The share of the owner key's rpm/tpm jobs may use; the rest stays open to its live calls. */
  rateShare: number;
  pollMs: number;
  fileTtlS: number;
  onError: (message: string) => void;
}

export const DEFAULT_BATCH_RUNNER = {
  leaseMs: 30_000,
  claimSize: 512,
  concurrency: 4,
  maxGroupInputs: 256,
  pollMs: 250,
  ratePercent: 80,
} as const;

interface Line extends BatchItem {
  request: { model: string; input: unknown; encoding_format?: unknown; dimensions?: unknown; user?: unknown };
}

class Paused extends Error {}

const STATUS_CHECK_MS = 250;
/** A gateway that took a job's last step (writing its files) and died is taken over after this. */
const FINALIZE_TAKEOVER_S = 300;
const EXPIRED_MESSAGE = 'This request could not be executed before the completion window expired.';
/** A job waiting at its key's limit tries again after at most this (a cancel is seen by then too). */
const PAUSE_STEP_MS = 2_000;

const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Lets pending I/O (live requests) run before the job's next piece of work: job work runs in
 * short steps between them instead of a long block ahead of them.
 */
const yieldToLive = () => new Promise<void>((resolve) => setImmediate(resolve));
const LINES_PER_YIELD = 32;

async function text(body: Buffer | NodeJS.ReadableStream): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** A result line; its id is unique per batch without a random draw per line (`batch_req_<batch>_<line>`). */
function resultLine(batchId: string, line: Line, status: number, requestId: string, body: string): string {
  return (
    `{"id":"batch_req_${batchId.slice('batch_'.length)}_${line.line}","custom_id":${JSON.stringify(line.custom_id)},` +
    `"response":{"status_code":${status},"request_id":${JSON.stringify(requestId)},"body":${body}},"error":null}`
  );
}

/** Lines that can share one upstream call: the same model and options, text inputs. */
function groupsOf(lines: Line[], maxInputs: number): Line[][] {
  const groups = new Map<string, Line[][]>();
  for (const line of lines) {
    const { model, encoding_format, dimensions, user, input } = line.request;
    const textual = typeof input === 'string' || (Array.isArray(input) && input.every((i) => typeof i === 'string'));
    const key = textual ? JSON.stringify([model, encoding_format, dimensions, user]) : `alone:${line.line}`;
    const list = groups.get(key) ?? [];
    const last = list.at(-1);
    const size = (l: Line) => (Array.isArray(l.request.input) ? l.request.input.length : 1);
    if (last && last.reduce((n, l) => n + size(l), 0) + size(line) <= maxInputs) last.push(line);
    else list.push([line]);
    groups.set(key, list);
  }
  return [...groups.values()].flat();
}

export class BatchRunner {
  private stopped = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly options: BatchRunnerOptions,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let worked = false;
      try {
        await this.finalizeSettled();
        worked = await this.tick();
      } catch (error) {
        if (!this.stopped) this.options.onError(`batch runner: ${(error as Error).message}`);
      }
      if (!worked && !this.stopped) await sleep(this.options.pollMs, this.stopping.signal);
    }
  }

  private async keyOf(owner: string): Promise<KnownKey | undefined> {
    const { keysByHash } = await this.ctx.catalogue.current();
    for (const known of keysByHash.values()) if (known.record.id === owner) return known;
    return undefined;
  }

  /** Claims a slice and runs it; false when there was nothing to do. */
  private async tick(): Promise<boolean> {
    const { store } = this.ctx;
    const { worker, leaseMs } = this.options;
    const claimed = await store.batches.claim(worker, Date.now(), Date.now() + leaseMs, this.options.claimSize);
    if (!claimed) return false;
    const { batch, items } = claimed;
    const lines = items.map((item) => ({ ...item, request: JSON.parse(item.body) as Line['request'] }));
    const held = new Set(lines.map((l) => l.line));
    const renew = setInterval(() => {
      store.batches.renew(batch.id, worker, [...held], Date.now() + leaseMs).catch(() => {});
    }, leaseMs / 3);
    try {
      const key = await this.keyOf(batch.owner);
      if (!key) {
        await this.fail(
          batch,
          'key_unavailable',
          `The API key that created this batch no longer exists; it cannot run.`,
        );
        return true;
      }
      const groups = groupsOf(lines, this.options.maxGroupInputs);
      let next = 0;
      let paused: Paused | undefined;
      // A cancel, the window's end (or a failure seen by another gateway) stops the slice within STATUS_CHECK_MS.
      let checkedAt = Date.now();
      let running = true;
      const stillRunning = async () => {
        if (Date.now() - checkedAt < STATUS_CHECK_MS) return running;
        checkedAt = Date.now();
        const current = await store.batches.get(batch.id);
        running = current?.status === 'in_progress' && current.expires_at > nowS();
        return running;
      };
      const work = async () => {
        while (next < groups.length && !paused && !this.stopped && (await stillRunning())) {
          const group = groups[next++]!;
          try {
            const results = await this.runGroup(batch, key, group);
            await yieldToLive();
            await store.batches.complete(batch.id, worker, results);
            await yieldToLive();
            for (const l of group) held.delete(l.line);
          } catch (error) {
            if (error instanceof Paused) paused = error;
            else throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.options.concurrency, groups.length) }, work));
      // Paused at a limit: this batch's lines stay held a while (other jobs run meanwhile), then anyone may retry.
      if (paused && held.size)
        await store.batches.renew(
          batch.id,
          worker,
          [...held],
          Date.now() + Math.min(Number(paused.message), PAUSE_STEP_MS),
        );
      else if (held.size) await store.batches.release(batch.id, worker, [...held]);
      if (!paused && batch.note) await store.batches.update(batch.id, { note: null }, ['in_progress']);
      return true;
    } finally {
      clearInterval(renew);
    }
  }

  /** One upstream call for the group's lines (alone again, if together they are refused); their result lines. */
  private async runGroup(batch: StoredBatch, key: KnownKey, group: Line[]): Promise<BatchResult[]> {
    const first = group[0]!.request;
    const inputs = group.flatMap((l) => (Array.isArray(l.request.input) ? l.request.input : [l.request.input]));
    const body = group.length === 1 ? first : { ...first, input: inputs };
    const trace: CallTrace & { key: KnownKey } = { startedAt: Date.now(), key };
    const id = randomId('req_', 12);
    const started = performance.now();
    const log = (status: number, errorCode: string | null) => {
      const row = logRowOf(trace, {
        id,
        status,
        errorCode,
        latencyMs: performance.now() - started,
        body,
        batchId: batch.id,
      });
      this.ctx.logs.record(row);
      this.ctx.metrics.observe(row);
    };
    try {
      const result = await embedCall(this.ctx, trace, body, {
        cacheDirective: 'use',
        rateShare: this.options.rateShare,
      });
      log(200, null);
      await yieldToLive();
      const encoding = trace.request!.encodingFormat;
      const sizes = group.map((l) => (Array.isArray(l.request.input) ? l.request.input.length : 1));
      // Each line's share of the call's tokens, from the counts the request already made.
      const counts = await trace.request!.tokenCounts();
      let offset = 0;
      const weights = sizes.map((size) => {
        let sum = 0;
        for (let k = 0; k < size; k++) sum += counts[offset + k]!;
        offset += size;
        return sum;
      });
      const tokens = group.length === 1 ? [result.promptTokens] : apportionTokens(result.promptTokens, weights);
      const results: BatchResult[] = [];
      offset = 0;
      for (const [i, line] of group.entries()) {
        const vectors = result.vectors.slice(offset, offset + sizes[i]!);
        offset += sizes[i]!;
        const json = await text(serializeEmbeddings(vectors, encoding, result.model, tokens[i]!));
        results.push({ line: line.line, state: 'done', result: resultLine(batch.id, line, 200, id, json) });
        if (i % LINES_PER_YIELD === LINES_PER_YIELD - 1) await yieldToLive();
      }
      return results;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      log(error.status, error.code);
      if (error.kind === 'rate_limited' && error.code !== 'tokens_exceed_rate_limit') {
        const wait = Number(error.headers['retry-after-ms'] ?? Number(error.headers['retry-after'] ?? 1) * 1000);
        const share =
          this.options.rateShare < 1
            ? ` (batch jobs use at most ${Math.round(this.options.rateShare * 100)} % of the key's rpm and tpm; the rest is kept for live calls)`
            : '';
        await this.ctx.store.batches.update(
          batch.id,
          { note: `waiting for the key's limits: ${error.message}${share}` },
          ['in_progress'],
        );
        throw new Paused(String(Math.min(Math.max(wait, 100), 60_000)));
      }
      if (error.kind === 'quota_exhausted') {
        await this.fail(batch, error.code ?? 'budget_exceeded', error.message);
        throw new Paused('0');
      }
      // Together refused (one bad input among them, say): each alone, so only the bad one fails.
      if (group.length > 1 && error.status < 500) {
        const alone: BatchResult[] = [];
        for (const line of group) alone.push(...(await this.runGroup(batch, key, [line])));
        return alone;
      }
      const errorBody = JSON.stringify(error.toBody());
      return group.map((line) => ({
        line: line.line,
        state: 'failed' as const,
        result: resultLine(batch.id, line, error.status, id, errorBody),
      }));
    }
  }

  private async fail(batch: StoredBatch, code: string, message: string): Promise<void> {
    await this.ctx.store.batches.update(
      batch.id,
      {
        status: 'failed',
        note: message,
        errors: [{ code, message, param: null, line: null }],
        times: { failed_at: nowS() },
      },
      ['in_progress'],
    );
    await this.writeFiles(batch.id);
  }

  /**
   * Jobs with nothing left to run: one gateway wins each step (a guarded status change) and writes
   * the files. A job past its completion window stops (its workers see it within STATUS_CHECK_MS),
   * and once no line is leased, its unrun lines go to the error file as `batch_expired`.
   */
  private async finalizeSettled(): Promise<void> {
    const { batches } = this.ctx.store;
    const now = nowS();
    for (const id of await batches.settled('in_progress', Date.now()))
      if (await batches.update(id, { status: 'finalizing', times: { finalizing_at: now } }, ['in_progress']))
        await this.finish(id, 'completed');
    for (const id of await batches.overdue(now)) {
      const note =
        'The completion window ended before every line ran: the lines not run are in the error file as batch_expired.';
      await batches.update(id, { status: 'finalizing', note, times: { expired_at: now } }, ['in_progress']);
    }
    const takeOver = (time: 'finalizing_at' | 'cancelled_at') => ({ time, staleBefore: now - FINALIZE_TAKEOVER_S });
    for (const id of await batches.settled('finalizing', Date.now())) {
      const batch = await batches.update(
        id,
        { times: { finalizing_at: now } },
        { status: ['finalizing'], unset: takeOver('finalizing_at') },
      );
      if (batch) await this.finish(id, batch.times.expired_at ? 'expired' : 'completed');
    }
    for (const id of await batches.settled('cancelling', Date.now()))
      if (
        await batches.update(
          id,
          { times: { cancelled_at: now } },
          { status: ['cancelling'], unset: takeOver('cancelled_at') },
        )
      )
        await this.finish(id, 'cancelled');
  }

  private async finish(id: string, status: 'completed' | 'expired' | 'cancelled'): Promise<void> {
    const { batches } = this.ctx.store;
    if (status === 'expired') await batches.failUnrun(id, 'batch_expired', EXPIRED_MESSAGE);
    await this.writeFiles(id);
    await batches.update(id, { status, ...(status === 'completed' ? { times: { completed_at: nowS() } } : {}) }, [
      status === 'cancelled' ? 'cancelling' : 'finalizing',
    ]);
  }

  /** The output file (lines done) and the error file (lines failed): views of the lines' results, in line order. */
  private async writeFiles(batchId: string): Promise<void> {
    const { store } = this.ctx;
    const batch = (await store.batches.get(batchId))!;
    const ids: { output_file_id?: string; error_file_id?: string } = {};
    for (const state of ['done', 'failed'] as const) {
      const file = await store.files.fromBatch({
        id: randomId('file-', 12),
        owner: batch.owner,
        filename: `${batch.id}_${state === 'done' ? 'output' : 'error'}.jsonl`,
        created_at: nowS(),
        expires_at: nowS() + this.options.fileTtlS,
        batchId,
        state,
      });
      if (file) ids[state === 'done' ? 'output_file_id' : 'error_file_id'] = file.id;
    }
    // No line ran nor failed: no file will ever need them.
    if (!ids.output_file_id && !ids.error_file_id) await store.batches.dropItems(batchId);
    await store.batches.update(batchId, ids);
  }
}
