/**
 * Prometheus metrics for `GET /metrics`. Labels use the routed model (`entity/model`), never the
 * raw requested string, and every label fed by a caller or an upstream (the routed model name
 * after an entity prefix, the model an upstream reports) is capped in length and in distinct
 * values: past MAX_LABEL_VALUES new ones count as `other`, so nobody can explode the cardinality.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestLogRow } from '../core/request-log.js';
import type { CacheCounters } from './embedding-cache.js';

/** What /metrics reads from the embedding cache at each scrape. */
export interface CacheReadings {
  counters: CacheCounters;
  memoryEntries: number;
  memoryBytes: number;
  stored: { entries: number; bytes: number };
}

/** Distinct values one label takes before the rest are counted as `other`. */
export const MAX_LABEL_VALUES = 200;
const MAX_LABEL_CHARS = 128;

/** A label's values: the first MAX_LABEL_VALUES seen (cut to MAX_LABEL_CHARS), then `other`. */
class BoundedLabel {
  private readonly seen = new Set<string>();

  of(value: string): string {
    const cut = value.length > MAX_LABEL_CHARS ? value.slice(0, MAX_LABEL_CHARS) : value;
    if (this.seen.has(cut)) return cut;
    if (this.seen.size >= MAX_LABEL_VALUES) return 'other';
    this.seen.add(cut);
    return cut;
  }
}

/** Each of the cache's counters as a Prometheus counter: name and help. */
const CACHE_COUNTERS: Record<keyof CacheCounters, [string, string]> = {
  hits: ['embctl_cache_hits_total', 'Inputs answered from the embedding cache'],
  misses: ['embctl_cache_misses_total', 'Inputs looked up in the embedding cache and not found'],
  memoryEvictions: ['embctl_cache_memory_evictions_total', "Entries evicted from this gateway's memory"],
  storeEvictions: ['embctl_cache_store_evictions_total', 'Entries evicted from the store to stay within its bounds'],
  expired: ['embctl_cache_expired_total', 'Entries deleted from the store past their TTL or entity'],
  writesDropped: [
    'embctl_cache_writes_dropped_total',
    'Entries not written to the store (queue full, store failing, or made before a clear)',
  ],
  damaged: ['embctl_cache_damaged_total', 'Stored entries found damaged, treated as misses and deleted'],
};

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly success = new Map<string, SuccessSeries>();
  private readonly requests = new Counter({
    name: 'embctl_requests_total',
    help: 'Embeddings requests by routed model and status class',
    labelNames: ['model', 'status_class'],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'embctl_errors_total',
    help: 'Failed embeddings requests by routed model and error code',
    labelNames: ['model', 'code'],
    registers: [this.registry],
  });
  private readonly inputs = new Counter({
    name: 'embctl_inputs_total',
    help: 'Inputs embedded',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'embctl_prompt_tokens_total',
    help: 'Prompt tokens billed',
    labelNames: ['model', 'estimated'],
    registers: [this.registry],
  });
  private readonly cost = new Counter({
    name: 'embctl_cost_usd_total',
    help: 'Cost in USD',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'embctl_request_duration_seconds',
    help: 'Gateway latency of embeddings requests',
    labelNames: ['model', 'status_class'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly upstreamLatency = new Histogram({
    name: 'embctl_upstream_duration_seconds',
    help: 'Time spent in the provider',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly mismatches = new Counter({
    name: 'embctl_model_mismatch_total',
    help: 'Calls where the upstream reported another model than the one routed to',
    labelNames: ['model', 'reported'],
    registers: [this.registry],
  });

  private readonly tokensSaved = new Counter({
    name: 'embctl_cache_tokens_saved_total',
    help: 'Prompt tokens answered from the embedding cache instead of the upstream',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly costSaved = new Counter({
    name: 'embctl_cache_cost_saved_usd_total',
    help: "USD the embedding cache saved, at the entities' prices",
    labelNames: ['model'],
    registers: [this.registry],
  });

  private readonly models = new BoundedLabel();
  private readonly reported = new BoundedLabel();

  /**
   * `instance` labels every series, so the scrapes of several gateways can be told apart; `live`
   * is read at each scrape.
   */
  constructor(
    instance: string,
    live: {
      logRowsBuffered(): number;
      logRowsDropped(): number;
      storeUp(): boolean;
      cache(): CacheReadings;
      bodyBudget(): { usedBytes: number; waiting: number };
    },
  ) {
    this.registry.setDefaultLabels({ instance });
    collectDefaultMetrics({ register: this.registry, prefix: 'embctl_process_' });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('embctl_log_rows_buffered', 'Request Log rows waiting in memory for the store', live.logRowsBuffered);
    gauge(
      'embctl_log_rows_dropped',
      'Request Log rows dropped since start because the buffer was full while the store refused writes',
      live.logRowsDropped,
    );
    gauge('embctl_store_up', '1 while the store answers, 0 since a check failed', () => (live.storeUp() ? 1 : 0));
    gauge(
      'embctl_upstream_body_bytes_held',
      'Expected bytes of upstream answers this gateway holds now (bounded by --upstream-body-budget-mb)',
      () => live.bodyBudget().usedBytes,
    );
    gauge(
      'embctl_upstream_body_waiting',
      'Calls waiting for room under the upstream body budget',
      () => live.bodyBudget().waiting,
    );
    gauge(
      'embctl_cache_memory_entries',
      "Embedding cache entries held in this gateway's memory",
      () => live.cache().memoryEntries,
    );
    gauge(
      'embctl_cache_memory_bytes',
      "Bytes of embedding cache entries held in this gateway's memory",
      () => live.cache().memoryBytes,
    );
    gauge(
      'embctl_cache_store_entries',
      "Embedding cache entries in the store, every gateway's, as of the last prune (30 s)",
      () => live.cache().stored.entries,
    );
    gauge(
      'embctl_cache_store_bytes',
      'Bytes of cached vectors in the store, as of the last prune (30 s)',
      () => live.cache().stored.bytes,
    );
    // Counted by the cache itself (the one source), copied at each scrape.
    for (const [field, [name, help]] of Object.entries(CACHE_COUNTERS) as [keyof CacheCounters, [string, string]][])
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(live.cache().counters[field]);
        },
      });
  }

  observe(row: RequestLogRow): void {
    const model = this.models.of(row.routed_model ?? 'unrouted');
    if (row.status >= 200 && row.status < 300) {
      const series = this.successOf(model);
      series.requests.inc();
      series.latency.observe(row.latency_ms / 1000);
      series.inputs.inc(row.input_count);
      (row.usage_estimated ? series.estimatedTokens : series.tokens).inc(row.prompt_tokens);
      series.cost.inc(row.cost_usd);
      if (row.upstream_ms !== null) series.upstreamLatency.observe(row.upstream_ms / 1000);
      if (row.cached_tokens > 0) this.tokensSaved.inc({ model }, row.cached_tokens);
      if (row.cost_saved_usd > 0) this.costSaved.inc({ model }, row.cost_saved_usd);
    } else {
      // A call answers 2xx, or fails with 4xx/5xx (499 when its caller left).
      const statusClass = `${Math.floor(row.status / 100)}xx`;
      this.requests.inc({ model, status_class: statusClass });
      this.latency.observe({ model, status_class: statusClass }, row.latency_ms / 1000);
      this.errors.inc({ model, code: row.error_code ?? 'unknown' });
      if (row.upstream_ms !== null) this.upstreamLatency.observe({ model }, row.upstream_ms / 1000);
    }
    if (row.model_mismatch) this.mismatches.inc({ model, reported: this.reported.of(row.resolved_model ?? '') });
  }

  /**
   * A model's series for a 2xx call, bound once: unbound, prom-client hashes the label set on
   * every call, six times per request. As many entries as the model label has values (≤ 201).
   */
  private successOf(model: string): SuccessSeries {
    let series = this.success.get(model);
    if (series === undefined) {
      series = {
        requests: this.requests.labels({ model, status_class: '2xx' }),
        latency: this.latency.labels({ model, status_class: '2xx' }),
        inputs: this.inputs.labels({ model }),
        tokens: this.tokens.labels({ model, estimated: 'false' }),
        estimatedTokens: this.tokens.labels({ model, estimated: 'true' }),
        cost: this.cost.labels({ model }),
        upstreamLatency: this.upstreamLatency.labels({ model }),
      };
      this.success.set(model, series);
    }
    return series;
  }
}

interface SuccessSeries {
  requests: Counter.Internal;
  latency: Histogram.Internal<string>;
  inputs: Counter.Internal;
  tokens: Counter.Internal;
  estimatedTokens: Counter.Internal;
  cost: Counter.Internal;
  upstreamLatency: Histogram.Internal<string>;
}
