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
];
