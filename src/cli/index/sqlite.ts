/**
 * `sqlite:PATH[#collection]`: one SQLite file holding several collections. Each collection has a
 * records table (position, id, text unless left out, metadata, the text's SHA-256, the model that
 * made the row) and a sqlite-vec `vec0` table of float32 vectors keyed by position; its meta and
 * checkpoint sit in `embctl_collections`. Rows are appended in transactions, so a killed run leaves
 * whole rows only; reopening drops those past the last checkpoint, as the JSONL target truncates.
 * Search is sqlite-vec's exact cosine KNN; with `--where` the filter runs in SQL over the metadata.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as sqliteVec from 'sqlite-vec';
import { CliError, ExitCode } from '../../core/errors.js';
import type { OutputRecord } from '../embed/runner.js';
import {
  contentHash,
  hitsOf,
  serializedVector,
  splitSpec,
  vectorOf,
  type Checkpoint,
  type Hit,
  type IndexAppender,
  type IndexMeta,
  type IndexTarget,
  type SearchableIndex,
  type SearchQuery,
  type StoredRow,
} from './target.js';

/** Rows read at a time when a migration streams a collection. */
const ROWS_PAGE = 2048;

function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  sqliteVec.load(db);
  db.exec('CREATE TABLE IF NOT EXISTS embctl_collections (name TEXT PRIMARY KEY, meta TEXT, checkpoint TEXT)');
  return db;
}

class Collection {
  readonly records: string;
  readonly vectors: string;

  constructor(
    readonly db: Database.Database,
    readonly name: string,
  ) {
    this.records = `"records_${name}"`;
    this.vectors = `"vectors_${name}"`;
  }

  row(): { meta: string | null; checkpoint: string | null } | undefined {
    return this.db.prepare('SELECT meta, checkpoint FROM embctl_collections WHERE name = ?').get(this.name) as
      | { meta: string | null; checkpoint: string | null }
      | undefined;
  }

  hasTables(): boolean {
    return Boolean(this.db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(`records_${this.name}`));
  }

  /** The tables, the vector table once the dimensions are known. */
  create(dimensions: number | undefined): void {
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${this.records} (position INTEGER PRIMARY KEY, id TEXT NOT NULL, text TEXT, ` +
        'metadata TEXT, content_sha256 TEXT NOT NULL, model TEXT NOT NULL)',
    );
    if (dimensions)
      this.db.exec(
        `CREATE VIRTUAL TABLE IF NOT EXISTS ${this.vectors} USING vec0(embedding float[${dimensions}] ` +
          'distance_metric=cosine)',
      );
    this.db.prepare('INSERT OR IGNORE INTO embctl_collections (name) VALUES (?)').run(this.name);
  }

  drop(): void {
    this.db.exec(`DROP TABLE IF EXISTS ${this.records}; DROP TABLE IF EXISTS ${this.vectors};`);
    this.db.prepare('DELETE FROM embctl_collections WHERE name = ?').run(this.name);
  }

  hasVectors(): boolean {
    return Boolean(this.db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(`vectors_${this.name}`));
  }

  /** Pages of the collection's tables and their indexes (the vec0 table's shadow tables included). */
  size(): number {
    const row = this.db
      .prepare(
        'SELECT COALESCE(SUM(pgsize), 0) AS bytes FROM dbstat WHERE name IN (SELECT name FROM sqlite_master ' +
          "WHERE tbl_name = ? OR tbl_name = ? OR tbl_name LIKE ? ESCAPE '\\')",
      )
      .get(`records_${this.name}`, `vectors_${this.name}`, `vectors\\_${this.name.replace(/_/g, '\\_')}\\_%`) as {
      bytes: number;
    };
    return row.bytes;
  }

  vectorCount(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM ${this.vectors}`).get() as { n: number }).n;
  }

  count(): number {
    return this.hasTables()
      ? (this.db.prepare(`SELECT COUNT(*) AS n FROM ${this.records}`).get() as { n: number }).n
      : 0;
  }
}

class SqliteAppender implements IndexAppender {
  private meta: IndexMeta | undefined;
  private rows: number;
  private readonly insertRecord: Database.Statement;

  constructor(
    private readonly collection: Collection,
    keepPosition: number | undefined,
  ) {
    const { db } = collection;
    const stored = collection.row()?.meta;
    this.meta = stored ? (JSON.parse(stored) as IndexMeta) : undefined;
    collection.create(this.meta?.dimensions);
    if (keepPosition !== undefined)
      db.transaction(() => {
        db.prepare(`DELETE FROM ${collection.records} WHERE position >= ?`).run(keepPosition);
        if (collection.hasVectors())
          db.prepare(`DELETE FROM ${collection.vectors} WHERE rowid >= ?`).run(BigInt(keepPosition));
      })();
    this.rows = collection.count();
    this.insertRecord = db.prepare(
      `INSERT INTO ${collection.records} (position, id, text, metadata, content_sha256, model) VALUES (?, ?, ?, ?, ?, ?)`,
    );
  }

  get records(): number {
    return this.rows;
  }

  get position(): number {
    return this.rows;
  }

  append(records: OutputRecord[], includeText: boolean): void {
    const { db, vectors } = this.collection;
    const model = this.meta?.model ?? '';
    db.transaction(() => {
      const insertVector = db.prepare(`INSERT INTO ${vectors} (rowid, embedding) VALUES (?, ?)`);
      for (const record of records) {
        const position = this.rows++;
        this.insertRecord.run(
          position,
          record.id,
          includeText ? record.text : null,
          record.metadata ? JSON.stringify(record.metadata) : null,
          contentHash(record.text),
          model,
        );
        insertVector.run(BigInt(position), vectorOf(record.embedding));
      }
    })();
  }

  embeddingAt(position: number): string {
    const row = this.collection.db
      .prepare(`SELECT embedding FROM ${this.collection.vectors} WHERE rowid = ?`)
      .get(BigInt(position)) as { embedding: Buffer } | undefined;
    if (!row) throw new Error(`record ${position} is not in collection '${this.collection.name}'`);
    const vector = new Float32Array(
      row.embedding.buffer.slice(row.embedding.byteOffset, row.embedding.byteOffset + row.embedding.byteLength),
    );
    return serializedVector(vector, this.meta);
  }

  /** Every append is durable when it returns. */
  flush(): void {}

  saveCheckpoint(checkpoint: Checkpoint): void {
    this.collection.db
      .prepare('UPDATE embctl_collections SET checkpoint = ? WHERE name = ?')
      .run(JSON.stringify(checkpoint), this.collection.name);
  }

  saveMeta(meta: IndexMeta): void {
    this.meta = meta;
    this.collection.create(meta.dimensions);
    this.collection.db
      .prepare('UPDATE embctl_collections SET meta = ? WHERE name = ?')
      .run(JSON.stringify(meta), this.collection.name);
  }

  close(): void {
    this.collection.db.close();
  }
}

/** The SQL that keeps records whose metadata holds every pair (values compared as text). */
function whereSql(where: Record<string, string> | undefined): { sql: string; params: string[] } {
  if (!where) return { sql: '', params: [] };
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [field, value] of Object.entries(where)) {
    const path = `$.${JSON.stringify(field)}`;
    clauses.push(
      "(CASE json_type(r.metadata, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' " +
        'ELSE CAST(json_extract(r.metadata, ?) AS TEXT) END) = ?',
    );
    params.push(path, path, value);
  }
  return { sql: ` WHERE ${clauses.join(' AND ')}`, params };
}

class SqliteIndex implements SearchableIndex {
  constructor(
    private readonly collection: Collection,
    readonly meta: IndexMeta,
    readonly count: number,
  ) {}

  async search(queries: Float32Array[], query: SearchQuery): Promise<Hit[][]> {
    const { db, records, vectors } = this.collection;
    const where = whereSql(query.where);
    const knn = db.prepare(
      `SELECT v.rowid AS position, v.distance AS distance, r.id, r.text, r.metadata FROM ${vectors} v ` +
        `JOIN ${records} r ON r.position = v.rowid WHERE v.embedding MATCH ? AND k = ? ORDER BY v.distance`,
    );
    const scan = db.prepare(
      `SELECT r.position, vec_distance_cosine(v.embedding, ?) AS distance, r.id, r.text, r.metadata FROM ${records} r ` +
        `JOIN ${vectors} v ON v.rowid = r.position${where.sql} ORDER BY distance LIMIT ?`,
    );
    type Row = { distance: number; id: string; text: string | null; metadata: string | null };
    return queries.map((vector) => {
      const rows = (
        query.where || query.exact ? scan.all(vector, ...where.params, query.k) : knn.all(vector, query.k)
      ) as Row[];
      return hitsOf(rows, query.minScore);
    });
  }

  close(): void {
    this.collection.db.close();
  }
}

export function sqliteTarget(spec: string): IndexTarget {
  const { location: path, part: name } = splitSpec(spec, {
    prefix: 'sqlite:',
    place: 'file',
    part: 'collection',
    forms: 'sqlite:PATH.db or sqlite:PATH.db#collection',
    example: 'sqlite:index.db#docs',
  });
  const withCollection = <T>(use: (collection: Collection) => T): T => {
    const db = openDatabase(path);
    try {
      return use(new Collection(db, name));
    } finally {
      db.close();
    }
  };
  const notSqlite = (): boolean => {
    if (!existsSync(path)) return false;
    try {
      withCollection(() => undefined);
      return false;
    } catch {
      return true;
    }
  };
  return {
    name: spec,
    absolute: `sqlite:${resolve(path)}#${name}`,
    missingDirectory: () => (existsSync(dirname(resolve(path))) ? undefined : dirname(path)),
    foreign: () => notSqlite() || (existsSync(path) && withCollection((c) => c.hasTables() && !c.row()?.meta)),
    meta: () => {
      if (!existsSync(path)) return undefined;
      const stored = withCollection((c) => c.row()?.meta);
      return stored ? (JSON.parse(stored) as IndexMeta) : undefined;
    },
    checkpoint: () => {
      if (!existsSync(path)) return undefined;
      const stored = withCollection((c) => c.row()?.checkpoint);
      return stored ? (JSON.parse(stored) as Checkpoint) : undefined;
    },
    remove: () => {
      if (existsSync(path)) withCollection((c) => c.drop());
    },
    open: (keepPosition) => new SqliteAppender(new Collection(openDatabase(path), name), keepPosition),
    async reader() {
      if (!existsSync(path)) return undefined;
      const collection = new Collection(openDatabase(path), name);
      const stored = collection.row()?.meta;
      if (!stored || !collection.hasVectors()) {
        collection.db.close();
        if (!stored) return undefined;
        throw new CliError(
          `${spec} holds no vectors yet`,
          ExitCode.notFound,
          'embed into it with `embctl embed --out`',
        );
      }
      return new SqliteIndex(collection, JSON.parse(stored) as IndexMeta, collection.count());
    },
    async *rows() {
      if (!existsSync(path)) return;
      const collection = new Collection(openDatabase(path), name);
      try {
        if (!collection.hasTables()) return;
        const stored = collection.row()?.meta;
        const dimensions = stored ? (JSON.parse(stored) as IndexMeta).dimensions : 0;
        // vec0 holds only vectors of its declared size: when every record has one (the counts
        // agree, as appends in one transaction keep them), each has those dimensions. Otherwise
        // each row's own vector is looked up, which is four times slower.
        const vectors = collection.hasVectors();
        const whole = vectors && collection.count() === collection.vectorCount();
        const page = collection.db.prepare(
          `SELECT r.position, r.id, r.text, r.metadata, r.content_sha256 AS contentSha256, r.model, ` +
            `${whole ? Number(dimensions) : vectors ? 'COALESCE(vec_length(v.embedding), 0)' : '0'} AS dimensions ` +
            `FROM ${collection.records} r ` +
            `${vectors && !whole ? `LEFT JOIN ${collection.vectors} v ON v.rowid = r.position ` : ''}` +
            'WHERE r.position >= ? ORDER BY r.position LIMIT ?',
        );
        type Row = StoredRow & { position: number; metadata: string | null };
        for (let from = 0; ; ) {
          const rows = page.all(from, ROWS_PAGE) as Row[];
          for (const { position: _, metadata, ...row } of rows)
            yield { ...row, metadata: metadata ? (JSON.parse(metadata) as Record<string, unknown>) : null };
          if (rows.length < ROWS_PAGE) return;
          from = rows.at(-1)!.position + 1;
        }
      } finally {
        collection.db.close();
      }
    },
    count: async () => (existsSync(path) ? withCollection((c) => c.count()) : 0),
    size: async () => (existsSync(path) ? withCollection((c) => c.size()) : 0),
  };
}
