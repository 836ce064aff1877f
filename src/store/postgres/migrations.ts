/**
 * PostgreSQL schema migrations, versioned in code like SQLite's and applied in order in one
 * transaction under an advisory lock, so replicas starting together migrate exactly once. The
 * version lives in `embctl_schema`.
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: the catalogue, request logs and settings, as SQLite's migrations 1–4 leave them.
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
    body TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
  );
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  INSERT INTO settings (name, value) VALUES ('catalogue_version', '0');
  -- seq is taken from the sequence while the append lock is held, and that lock is held until
  -- commit: rows become visible in seq order, so a reader's "after seq N" can never skip a row.
  CREATE SEQUENCE request_logs_seq;
  CREATE TABLE request_logs (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    key_id TEXT,
    key_name TEXT,
    requested_model TEXT,
    routed_model TEXT,
    resolved_model TEXT,
    entity_id TEXT,
    provider TEXT,
    input_count INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    usage_estimated BOOLEAN NOT NULL,
    dimensions INTEGER,
    encoding TEXT,
    status INTEGER NOT NULL,
    error_code TEXT,
    latency_ms DOUBLE PRECISION NOT NULL,
    upstream_ms DOUBLE PRECISION,
    cost_usd DOUBLE PRECISION NOT NULL,
    model_mismatch BOOLEAN NOT NULL
  );
  CREATE INDEX request_logs_created_at ON request_logs (created_at);
  CREATE INDEX request_logs_key ON request_logs (key_id);
  `,
  // 2: per-key usage counters in fixed windows, shared by every gateway on the store.
  `
  CREATE TABLE key_usage (
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    start BIGINT NOT NULL,
    requests INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    spent DOUBLE PRECISION NOT NULL,
    reserved DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (key_id, kind, start)
  );
  `,
  // 3: the gateways running on this store, as each last reported itself.
  `
  CREATE TABLE gateway_instances (
    instance TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
  );
  `,
];
