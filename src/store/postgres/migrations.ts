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
  // 4: admission and settlement of a key's usage as one statement each: the key's lock is held for
  // the statement only, never across a round trip (a busy gateway would hold it for milliseconds).
  // The admission rule is the one in src/store/usage-counters.ts (exceededCap).
  `
  CREATE FUNCTION embctl_usage_admit(
    p_lock integer, p_key text, p_minute bigint, p_day bigint, p_month bigint,
    d_requests integer, d_tokens integer, d_day_reserved double precision, d_month_reserved double precision,
    cap_requests bigint, cap_tokens bigint, cap_day double precision, cap_month double precision
  ) RETURNS TABLE (
    o_admitted boolean, o_requests integer, o_tokens integer, o_day_spent double precision,
    o_day_reserved double precision, o_month_spent double precision, o_month_reserved double precision
  ) LANGUAGE plpgsql AS $fn$
  DECLARE
    m key_usage%ROWTYPE;
    d key_usage%ROWTYPE;
    mo key_usage%ROWTYPE;
    fits boolean;
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock, hashtext(p_key));
    INSERT INTO key_usage VALUES (p_key, 'minute', p_minute, 0, 0, 0, 0) ON CONFLICT DO NOTHING;
    IF NOT EXISTS (SELECT 1 FROM key_usage u WHERE u.key_id = p_key AND u.kind = 'day' AND u.start = p_day) THEN
      INSERT INTO key_usage SELECT p_key, 'day', p_day, 0, 0, COALESCE(SUM(l.cost_usd), 0), 0
        FROM request_logs l WHERE l.key_id = p_key AND l.created_at >= p_day ON CONFLICT DO NOTHING;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM key_usage u WHERE u.key_id = p_key AND u.kind = 'month' AND u.start = p_month) THEN
      INSERT INTO key_usage SELECT p_key, 'month', p_month, 0, 0, COALESCE(SUM(l.cost_usd), 0), 0
        FROM request_logs l WHERE l.key_id = p_key AND l.created_at >= p_month ON CONFLICT DO NOTHING;
    END IF;
    SELECT * INTO m FROM key_usage u WHERE u.key_id = p_key AND u.kind = 'minute' AND u.start = p_minute;
    SELECT * INTO d FROM key_usage u WHERE u.key_id = p_key AND u.kind = 'day' AND u.start = p_day;
    SELECT * INTO mo FROM key_usage u WHERE u.key_id = p_key AND u.kind = 'month' AND u.start = p_month;
    fits := (cap_day IS NULL OR d.spent + d.reserved < cap_day)
      AND (cap_month IS NULL OR mo.spent + mo.reserved < cap_month)
      AND (cap_requests IS NULL OR m.requests < cap_requests)
      AND (cap_tokens IS NULL OR m.tokens + d_tokens <= cap_tokens);
    IF fits THEN
      UPDATE key_usage u SET requests = u.requests + d_requests, tokens = u.tokens + d_tokens
        WHERE u.key_id = p_key AND u.kind = 'minute' AND u.start = p_minute;
      UPDATE key_usage u SET reserved = u.reserved + d_day_reserved
        WHERE u.key_id = p_key AND u.kind = 'day' AND u.start = p_day;
      UPDATE key_usage u SET reserved = u.reserved + d_month_reserved
        WHERE u.key_id = p_key AND u.kind = 'month' AND u.start = p_month;
    END IF;
    RETURN QUERY SELECT fits, m.requests, m.tokens, d.spent, d.reserved, mo.spent, mo.reserved;
  END
  $fn$;

  CREATE FUNCTION embctl_usage_adjust(
    p_lock integer, p_key text, p_minute bigint, p_day bigint, p_month bigint,
    d_requests integer, d_tokens integer, d_day_spent double precision, d_day_reserved double precision,
    d_month_spent double precision, d_month_reserved double precision
  ) RETURNS void LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock, hashtext(p_key));
    UPDATE key_usage u SET requests = u.requests + d_requests, tokens = GREATEST(0, u.tokens + d_tokens)
      WHERE u.key_id = p_key AND u.kind = 'minute' AND u.start = p_minute;
    UPDATE key_usage u SET spent = u.spent + d_day_spent, reserved = GREATEST(0, u.reserved + d_day_reserved)
      WHERE u.key_id = p_key AND u.kind = 'day' AND u.start = p_day;
    UPDATE key_usage u SET spent = u.spent + d_month_spent, reserved = GREATEST(0, u.reserved + d_month_reserved)
      WHERE u.key_id = p_key AND u.kind = 'month' AND u.start = p_month;
  END
  $fn$;
  `,
  // 5: the per-input embedding cache, and what each call took from it. Vectors are stored outside
  // the row uncompressed: float bytes do not compress, and trying costs CPU on every write.
  `
  CREATE TABLE embedding_cache (
    key BYTEA PRIMARY KEY,
    entity_id TEXT NOT NULL,
    model TEXT NOT NULL,
    dims INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    checksum BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT NOT NULL,
    vector BYTEA NOT NULL
  );
  ALTER TABLE embedding_cache ALTER COLUMN vector SET STORAGE EXTERNAL;
  CREATE INDEX embedding_cache_entity ON embedding_cache (entity_id, dims);
  CREATE INDEX embedding_cache_expires ON embedding_cache (expires_at);
  CREATE INDEX embedding_cache_used ON embedding_cache (used_at);
  INSERT INTO settings (name, value) VALUES ('cache_epoch', '0') ON CONFLICT DO NOTHING;
  ALTER TABLE request_logs ADD COLUMN cached_inputs INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE request_logs ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE request_logs ADD COLUMN cost_saved_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
  `,
  // 6: \`gemini\` now calls Google's OpenAI-compatible endpoint, as the reference gateway does; the
  // entities written before keep the native batchEmbedContents API they were calling.
  `
  UPDATE entities SET body = jsonb_set(body::jsonb, '{provider}', '"gemini-native"')::text, version = version + 1
    WHERE body::jsonb->>'provider' = 'gemini';
  `,
  // 7: files uploaded through the Files API, their bytes in chunks (deleted with the file).
  // Idempotent, so that a schema rewound in tests can run it again.
  `
  CREATE TABLE IF NOT EXISTS files (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    purpose TEXT NOT NULL,
    filename TEXT NOT NULL,
    bytes BIGINT NOT NULL DEFAULT 0,
    lines BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
  );
  CREATE INDEX IF NOT EXISTS files_owner ON files (owner, seq);
  CREATE INDEX IF NOT EXISTS files_expires ON files (expires_at);
  CREATE TABLE IF NOT EXISTS file_chunks (
    file_id TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (file_id, seq)
  );
  `,
  // 8: batch jobs and their lines; Request Log rows say which batch they ran for.
  `
  ALTER TABLE request_logs ADD COLUMN batch_id TEXT;
  CREATE INDEX request_logs_batch ON request_logs (batch_id) WHERE batch_id IS NOT NULL;
  CREATE TABLE batches (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    completed BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0
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
    lease_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, line)
  );
  CREATE INDEX batch_items_state ON batch_items (batch_id, state, line);
  `,
  // 9: a batch's output and error files are views of its lines' results, not copies.
  `
  ALTER TABLE files ADD COLUMN batch_id TEXT;
  ALTER TABLE files ADD COLUMN batch_state TEXT;
  CREATE INDEX files_batch ON files (batch_id) WHERE batch_id IS NOT NULL;
  `,
];
