/**
 * The store interface: everything the gateway persists. Routes and the router see only this, so a
 * PostgreSQL implementation can sit beside `sqlite/` without touching them. Methods are async for
 * that reason, even though SQLite answers synchronously.
 */
import type { ApiKeyRecord } from '../core/api-key.js';
import type { EmbeddingModelEntity, StoredEntity } from '../core/entity.js';
import type { LogFilter, RequestLogRow, StoredLogRow, UsageGroup, UsageRow } from '../core/request-log.js';

export interface EntityStore {
  list(): Promise<StoredEntity[]>;
  get(id: string): Promise<StoredEntity | undefined>;
  /** Throws `StoreConflict('exists')` when the id is taken. */
  create(entity: EmbeddingModelEntity): Promise<StoredEntity>;
  /** Replaces the entity; with `expectedVersion`, throws `StoreConflict('stale')` if it moved on. */
  replace(id: string, entity: EmbeddingModelEntity, expectedVersion?: number): Promise<StoredEntity>;
  delete(id: string, expectedVersion?: number): Promise<void>;
}

export interface ApiKeyStore {
  list(): Promise<StoredApiKey[]>;
  get(id: string): Promise<StoredApiKey | undefined>;
  create(record: ApiKeyRecord): Promise<StoredApiKey>;
  /**
   * Replaces the key; with `expectedVersion`, throws `StoreConflict('stale')` if it moved on. A
   * revoked key stays revoked whatever is written: no write can undo a revocation.
   */
  replace(record: ApiKeyRecord, expectedVersion?: number): Promise<StoredApiKey>;
  delete(id: string): Promise<void>;
}

export interface StoredApiKey extends ApiKeyRecord {
  /** Bumped on every write, as entities' versions are. */
  version: number;
}

/** What a first start writes, all of it or none of it. */
export interface BootstrapSeed {
  entity: EmbeddingModelEntity;
  apiKey: ApiKeyRecord;
  adminTokenHash: string;
}

export interface SettingsStore {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
}

export interface LogPage {
  rows: StoredLogRow[];
  /** Pass back as `before` for the next (older) page; undefined on the last page. */
  nextCursor: number | undefined;
}

export interface RequestLogStore {
  /** Appends in one transaction; returns the rows with their `seq`, in order. */
  append(rows: RequestLogRow[]): Promise<StoredLogRow[]>;
  /** Newest first; `before` is a `seq` cursor. */
  page(filter: LogFilter, limit: number, before?: number): Promise<LogPage>;
  /** Oldest first, after `seq` (for a stream that resumes). */
  after(filter: LogFilter, seq: number, limit: number): Promise<StoredLogRow[]>;
  get(id: string): Promise<StoredLogRow | undefined>;
  usage(filter: LogFilter, groupBy: UsageGroup[]): Promise<UsageRow[]>;
  /** Deletes rows older than `olderThan` (epoch ms) and beyond the newest `maxRows`; returns how many. */
  prune(olderThan: number, maxRows: number): Promise<number>;
}

/** The starts (epoch ms) of the fixed windows a call counts in: its minute, UTC day and UTC month. */
export interface UsageWindows {
  minute: number;
  day: number;
  month: number;
}

/** A key's counters in its windows: what one gateway or many have admitted, reserved and spent. */
export interface WindowTotals {
  requests: number;
  tokens: number;
  daySpent: number;
  dayReserved: number;
  monthSpent: number;
  monthReserved: number;
}

/** Added to a key's counters: an admission (+1 request, reserved tokens and cost) or a settlement. */
export type UsageDelta = Partial<WindowTotals>;

/** A key's limits as the counters check them (absent ones do not apply). */
export interface UsageCaps {
  /** Requests per minute. */
  requests?: number;
  /** Tokens per minute. */
  tokens?: number;
  /** USD per UTC day and month: a call fits while spent + reserved is under the budget. */
  dayBudget?: number;
  monthBudget?: number;
}

/**
 * Per-key usage shared by every gateway on the store, so N replicas together admit what one would.
 * `admit` reads and adds in one transaction, the rows locked: no two callers take the same unit.
 */
export interface UsageCounterStore {
  /**
   * Reads the key's totals in `windows` (a day or month first seen starts from the spend in the
   * request logs) and, if the call fits `caps` (see `exceededCap`), adds `delta`; returns the totals as read.
   */
  admit(
    keyId: string,
    windows: UsageWindows,
    delta: UsageDelta,
    caps: UsageCaps,
  ): Promise<{ admitted: boolean; current: WindowTotals }>;
  /** Adds `delta` (it may be negative: a reservation released) to the windows a call was admitted in. */
  adjust(keyId: string, windows: UsageWindows, delta: UsageDelta): Promise<void>;
  totals(keyId: string, windows: UsageWindows): Promise<WindowTotals>;
  /** Drops windows that started before `olderThan` (epoch ms); returns how many. */
  prune(olderThan: number): Promise<number>;
}

/** A gateway running on the store, as it last reported itself. */
export interface InstanceBeat {
  instance: string;
  version: string;
  pid: number;
  started_at: number;
  seen_at: number;
}

/** Gateways report themselves every few seconds, so any of them can list the others (`gateway status`). */
export interface InstanceStore {
  beat(beat: InstanceBeat): Promise<void>;
  /** Those seen since `since` (epoch ms), newest first; older reports are deleted. */
  recent(since: number): Promise<InstanceBeat[]>;
}

/**
 * One cached vector as stored. `checksum` covers the model and the vector bytes; the reader checks
 * it (and the length against `dims`) so that a damaged row is a miss, never a wrong answer.
 */
export interface CacheRow {
  /** 32 bytes: see `core/cache-key.ts`. */
  key: Buffer;
  entity_id: string;
  /** What the upstream said it served when the entry was made. */
  model: string;
  dims: number;
  /** float32, little-endian. */
  vector: Buffer;
  /** The input's share of the tokens the upstream reported. */
  tokens: number;
  checksum: number;
  /** Epoch ms. */
  expires_at: number;
}

export interface CacheUsage {
  entity_id: string;
  entries: number;
  /** Bytes of the vectors themselves. */
  bytes: number;
}

/** Bounds on the whole cache; beyond them the least recently used entries go first. */
export interface CacheBounds {
  maxEntries: number;
  maxBytes: number;
}

/** What a prune round did, and what the cache holds after it (vector bytes: entries × dims × 4). */
export interface CachePruned {
  expired: number;
  evicted: number;
  entries: number;
  bytes: number;
}

/** The per-input embedding cache: shared by every gateway on the store. */
export interface EmbeddingCacheStore {
  /** The rows of `keys` that have not expired by `now`, in no particular order. */
  get(keys: Buffer[], now: number): Promise<CacheRow[]>;
  /**
   * Inserts or replaces, each row used at `now`, if the cache epoch is still `epoch` (the one the
   * entries were made in); after a clear, nothing made before it is written. Returns the rows written.
   */
  put(rows: CacheRow[], now: number, epoch: number): Promise<number>;
  /** Marks entries as used at `now` (eviction takes the least recently used first). */
  touch(keys: Buffer[], now: number): Promise<void>;
  /** Deletes these entries (a reader found them damaged). */
  forget(keys: Buffer[]): Promise<void>;
  /** Per entity; one entity's only with `entityId`. */
  stats(entityId?: string): Promise<CacheUsage[]>;
  /**
   * Deletes every entry (or one entity's) and bumps the cache epoch, so every gateway drops what it
   * holds in memory at its next catalogue check. Returns how many entries went.
   */
  clear(entityId?: string): Promise<number>;
  /** The epoch `clear` bumps. */
  epoch(): Promise<number>;
  /**
   * Deletes expired entries and those of entities not in `liveEntities` (`expired`), then the least
   * recently used beyond `bounds` (`evicted`), each at most `PRUNE_BATCH` a round.
   */
  prune(now: number, bounds: CacheBounds, liveEntities: string[]): Promise<CachePruned>;
}

/**
 * A file uploaded through `POST /v1/files` (OpenAI's Files API), owned by the API key that sent it.
 * Its bytes are stored in chunks, written as they arrive and read back one at a time, so a file is
 * never held whole in memory; it is `uploading` until its last chunk is in.
 */
export interface StoredFile {
  id: string;
  /** The id of the API key that uploaded it: no other key sees it. */
  owner: string;
  purpose: string;
  filename: string;
  bytes: number;
  /** JSONL lines (non-empty). */
  lines: number;
  status: 'uploading' | 'processed';
  /** Epoch seconds. */
  created_at: number;
  expires_at: number | null;
}

export interface FileListQuery {
  owner: string;
  purpose?: string | undefined;
  /** Cursor: files after this id in the listing order. */
  after?: string | undefined;
  limit: number;
  order: 'asc' | 'desc';
}

export interface FileStore {
  /** Starts a file (`uploading`, no bytes yet; multipart clients may send the purpose after the file). */
  begin(file: Pick<StoredFile, 'id' | 'owner' | 'filename' | 'created_at'>): Promise<void>;
  /** Chunk `seq` (0, 1, …) of the file's bytes. */
  append(id: string, seq: number, chunk: Buffer): Promise<void>;
  /** The upload is complete: `processed`, with its purpose, size, line count and expiry. */
  finish(id: string, done: Pick<StoredFile, 'purpose' | 'bytes' | 'lines' | 'expires_at'>): Promise<StoredFile>;
  get(id: string): Promise<StoredFile | undefined>;
  /** Processed files of one owner, newest first unless `order: 'asc'`. */
  list(query: FileListQuery): Promise<StoredFile[]>;
  /**
   * A batch's output (`done`) or error (`failed`) file: a processed file whose content is the
   * results of those lines, in line order, read from the batch when asked (never copied). Undefined
   * when no line is in that state (no file is made).
   */
  fromBatch(
    file: Pick<StoredFile, 'id' | 'owner' | 'filename' | 'created_at' | 'expires_at'> & {
      batchId: string;
      state: BatchResult['state'];
    },
  ): Promise<StoredFile | undefined>;
  /** The file's bytes, chunk by chunk, in order. */
  chunks(id: string): AsyncIterable<Buffer>;
  /** Deletes the file; a batch's lines go with the last file made from them. */
  delete(id: string): Promise<boolean>;
  /** Deletes expired files (a batch's lines with its last) and uploads begun before `abandonedBefore` and never finished; how many. */
  prune(nowS: number, abandonedBefore: number): Promise<number>;
}

export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export type BatchTime =
  | 'in_progress_at'
  | 'finalizing_at'
  | 'completed_at'
  | 'failed_at'
  | 'expired_at'
  | 'cancelling_at'
  | 'cancelled_at';

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A batch job (OpenAI's Batch API), owned by the key that created it. */
export interface StoredBatch {
  id: string;
  owner: string;
  status: BatchStatus;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  /** Epoch seconds, as every time here. */
  created_at: number;
  expires_at: number;
  times: Partial<Record<BatchTime, number>>;
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  errors: BatchError[] | null;
  /** Why the job waits (a rate limit of its key), or why it stopped; null while it simply runs. */
  note: string | null;
}

/** One line of a batch: its request, and once run, its result line for the output or error file. */
export interface BatchItem {
  line: number;
  custom_id: string;
  /** The request body, JSON. */
  body: string;
}

export interface BatchResult {
  line: number;
  state: 'done' | 'failed';
  /** The output (or error) file's line for it, JSON. */
  result: string;
}

export type BatchPatch = Partial<
  Pick<StoredBatch, 'status' | 'output_file_id' | 'error_file_id' | 'errors' | 'note'>
> & {
  /** Merged into the batch's times. */
  times?: Partial<Record<BatchTime, number>>;
};

/**
 * When an update may apply: the batch's status is one of `status`, and (when given) `time` is not
 * yet set or was set before `staleBefore` (a gateway that took the step and died is taken over).
 */
export interface BatchGuard {
  status: BatchStatus[];
  unset?: { time: BatchTime; staleBefore: number };
}

export interface BatchStore {
  /** Stores a new batch (no items yet). */
  create(batch: StoredBatch): Promise<void>;
  /** Adds lines to a batch being validated; `request_counts.total` follows. */
  addItems(id: string, items: BatchItem[]): Promise<void>;
  /** Drops every line of a batch that failed validation. */
  dropItems(id: string): Promise<void>;
  get(id: string): Promise<StoredBatch | undefined>;
  /** One owner's batches, newest first, after the cursor. */
  list(query: { owner: string; after?: string | undefined; limit: number }): Promise<StoredBatch[]>;
  /** Applies the patch when `from` allows (status one of a list, or a guard; always when absent); the batch after, or undefined. */
  update(id: string, patch: BatchPatch, from?: BatchStatus[] | BatchGuard): Promise<StoredBatch | undefined>;
  /**
   * Leases up to `max` pending lines of the oldest running batch with any free, to `worker` until
   * `leaseUntil` (ms). Two workers never hold the same line (row locks, SKIP LOCKED on PostgreSQL).
   */
  claim(
    worker: string,
    now: number,
    leaseUntil: number,
    max: number,
  ): Promise<{ batch: StoredBatch; items: BatchItem[] } | undefined>;
  /** Extends the lease of lines the worker still holds. */
  renew(id: string, worker: string, lines: number[], leaseUntil: number): Promise<void>;
  /** Gives lines back unrun (a pause at a limit). */
  release(id: string, worker: string, lines: number[]): Promise<void>;
  /**
   * Records results of lines the worker still holds, counts updated in the same transaction; a
   * line whose lease passed to another worker is not recorded twice. How many were recorded.
   */
  complete(id: string, worker: string, results: BatchResult[]): Promise<number>;
  /** Lines not yet done or failed, and of them those leased now. */
  remaining(id: string, now: number): Promise<{ pending: number; leased: number }>;
  /**
   * Batches ready for their files: `in_progress` ones with every line done or failed; in any other
   * status (cancelling, finalizing after expiry), those with no line leased any more.
   */
  settled(status: BatchStatus, now: number): Promise<string[]>;
  /** Running batches whose completion window ended by `nowS` (epoch seconds). */
  overdue(nowS: number): Promise<string[]>;
  /** Fails every line not yet run with the error `code`, as its error-file line; how many. */
  failUnrun(id: string, code: string, message: string): Promise<number>;
}

export interface Store {
  readonly kind: string;
  /** The schema version the store is at (its migrations applied). */
  readonly schemaVersion: number;
  /** Where the data lives, for `gateway status` and start-up lines. Never includes a password. */
  readonly location: string;
  entities: EntityStore;
  apiKeys: ApiKeyStore;
  settings: SettingsStore;
  logs: RequestLogStore;
  usage: UsageCounterStore;
  instances: InstanceStore;
  cache: EmbeddingCacheStore;
  files: FileStore;
  batches: BatchStore;
  /**
   * Bumped by every write to entities or keys, from any process sharing the store: the gateway
   * polls it to drop its in-memory catalogue when another replica changed something.
   */
  catalogueVersion(): Promise<number>;
  /**
   * Writes the seed in one transaction if the store has no admin token yet; false when another
   * process got there first (nothing is written then). Replicas starting together bootstrap once.
   */
  bootstrap(seed: BootstrapSeed): Promise<boolean>;
  close(): Promise<void>;
}

export type StoreConflictReason = 'exists' | 'stale' | 'missing';

export class StoreConflict extends Error {
  constructor(
    readonly reason: StoreConflictReason,
    readonly id: string,
    readonly currentVersion?: number,
  ) {
    super(`${reason}: ${id}`);
    this.name = 'StoreConflict';
  }
}
