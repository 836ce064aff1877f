/** Reading what an index target holds without embctl: the JSONL lines, the SQLite tables, the LanceDB table. */
import * as lancedb from '@lancedb/lancedb';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sqliteVec from 'sqlite-vec';

export interface Row {
  id: string;
  text: string | null;
  metadata: Record<string, unknown> | null;
  vector: number[];
}

/** What an index holds, in order, read without embctl: the JSONL lines, the SQLite tables, the LanceDB table. */
export async function rowsOf(spec: string): Promise<Row[]> {
  if (spec.startsWith('lancedb:')) {
    const [dir, table] = spec.slice('lancedb:'.length).split('#') as [string, string];
    if (!existsSync(join(dir, `${table}.lance`))) return [];
    const connection = await lancedb.connect(dir);
    const opened = await connection.openTable(table);
    const rows = (await opened.query().select(['position', 'id', 'text', 'metadata', 'vector']).toArray()) as {
      position: number;
      id: string;
      text: string | null;
      metadata: string | null;
      vector: ArrayLike<number>;
    }[];
    opened.close();
    connection.close();
    return rows
      .sort((a, b) => a.position - b.position)
      .map((r) => ({
        id: r.id,
        text: r.text,
        metadata: r.metadata && JSON.parse(r.metadata),
        vector: Array.from(r.vector, (v) => Math.fround(v)),
      }));
  }
  if (spec.startsWith('sqlite:')) {
    const [path, collection] = spec.slice('sqlite:'.length).split('#') as [string, string];
    if (!existsSync(path)) return [];
    const db = new Database(path, { readonly: true });
    sqliteVec.load(db);
    try {
      const tables = db.prepare('SELECT name FROM sqlite_master WHERE name = ?').get(`vectors_${collection}`);
      if (!tables) return [];
      return (
        db
          .prepare(
            `SELECT r.id, r.text, r.metadata, vec_to_json(v.embedding) AS vector FROM "records_${collection}" r ` +
              `JOIN "vectors_${collection}" v ON v.rowid = r.position ORDER BY r.position`,
          )
          .all() as { id: string; text: string | null; metadata: string | null; vector: string }[]
      ).map((r) => ({
        ...r,
        metadata: r.metadata && JSON.parse(r.metadata),
        vector: (JSON.parse(r.vector) as number[]).map((v) => Math.fround(v)),
      }));
    } finally {
      db.close();
    }
  }
  if (!existsSync(spec)) return [];
  return readFileSync(spec, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as { id: string; text?: string; metadata?: Record<string, unknown>; embedding: number[] })
    .map((r) => ({
      id: r.id,
      text: r.text ?? null,
      metadata: r.metadata ?? null,
      vector: r.embedding.map((v) => Math.fround(v)),
    }));
}
