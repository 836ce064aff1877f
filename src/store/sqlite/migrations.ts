/**
 * Schema migrations, versioned in code and applied in order inside one immediate transaction, so
 * two gateways starting on the same data dir cannot both migrate. The version lives in
 * `PRAGMA user_version`.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the catalogue. Entities and keys are stored as JSON documents: their shape follows the
  // reference gateway and grows with it, while lookups need only the primary key or the hash.
  `
  CREATE TABLE entities (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
  );
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  INSERT INTO settings (name, value) VALUES ('catalogue_version', '0');
  `,
  // 2: request logs. `seq` orders rows and resumes streams; times are epoch milliseconds so that
  // ranges use the index and days group with strftime.
  `
  CREATE TABLE request_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    key_id TEXT,
    key_name TEXT,
    requested_model TEXT,
    resolved_model TEXT,
    entity_id TEXT,
    provider TEXT,
    input_count INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    usage_estimated INTEGER NOT NULL,
    dimensions INTEGER,
    encoding TEXT,
    status INTEGER NOT NULL,
    error_code TEXT,
    latency_ms REAL NOT NULL,
    upstream_ms REAL,
    cost_usd REAL NOT NULL,
    model_mismatch INTEGER NOT NULL
  );
  CREATE INDEX request_logs_created_at ON request_logs (created_at);
  CREATE INDEX request_logs_key ON request_logs (key_id);
  `,
  // 3: API keys carry a version, so that concurrent writes cannot silently undo each other.
  `
  ALTER TABLE api_keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  `,
  // 4: the routed `entity/model`, so that usage groups one model's successes and failures together.
  // Older rows keep NULL and group by the name they were asked by.
  `
  ALTER TABLE request_logs ADD COLUMN routed_model TEXT;
  `,
  // 5: per-key usage counters in fixed windows, shared by every gateway on the store.
  `
  CREATE TABLE key_usage (
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    start INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    spent REAL NOT NULL,
    reserved REAL NOT NULL,
    PRIMARY KEY (key_id, kind, start)
  );
  `,
  // 6: the gateways running on this store, as each last reported itself.
  `
  CREATE TABLE gateway_instances (
    instance TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
  );
  `,
  // 7: what each call took from the embedding cache (which lives in its own file: cache-database.ts).
  `
  ALTER TABLE request_logs ADD COLUMN cached_inputs INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE request_logs ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE request_logs ADD COLUMN cost_saved_usd REAL NOT NULL DEFAULT 0;
  `,
  // 8: \`gemini\` now calls Google's OpenAI-compatible endpoint, as the reference gateway does; the
  // entities written before keep the native batchEmbedContents API they were calling.
  `
  UPDATE entities SET body = json_set(body, '$.provider', 'gemini-native'), version = version + 1
    WHERE json_extract(body, '$.provider') = 'gemini';
  `,
  // 9: files uploaded through the Files API, their bytes in chunks (deleted with the file).
  // Idempotent, so that a schema rewound in tests can run it again.
  `
  CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    purpose TEXT NOT NULL,
    filename TEXT NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS files_owner ON files (owner, seq);
  CREATE INDEX IF NOT EXISTS files_expires ON files (expires_at);
  CREATE TABLE IF NOT EXISTS file_chunks (
    file_id TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (file_id, seq)
  );
  `,
  // 10: batch jobs and their lines; Request Log rows say which batch they ran for.
  `
  ALTER TABLE request_logs ADD COLUMN batch_id TEXT;
  CREATE INDEX request_logs_batch ON request_logs (batch_id) WHERE batch_id IS NOT NULL;
  CREATE TABLE batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX batches_owner ON batches (owner, seq);
  CREATE INDEX batches_status ON batches (status, seq);
  CREATE TABLE batch_items (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    result TEXT,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, line)
  );
  CREATE INDEX batch_items_state ON batch_items (batch_id, state, line);
  `,
  // 11: a batch's output and error files are views of its lines' results, not copies.
  `
  ALTER TABLE files ADD COLUMN batch_id TEXT;
  ALTER TABLE files ADD COLUMN batch_state TEXT;
  CREATE INDEX files_batch ON files (batch_id) WHERE batch_id IS NOT NULL;
  `,
];
