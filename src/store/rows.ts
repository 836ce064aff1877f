/** The rows both engines keep entities and keys in (JSON documents beside their version), as records. */
import type { ApiKeyRecord } from '../core/api-key.js';
import type { EmbeddingModelEntity, StoredEntity } from '../core/entity.js';
import type { StoredApiKey } from './store.js';

export interface EntityRow {
  id: string;
  body: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface KeyRow {
  body: string;
  version: number;
}

export const storedEntity = (row: EntityRow): StoredEntity => ({
  ...(JSON.parse(row.body) as EmbeddingModelEntity),
  version: row.version,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const storedKey = (row: KeyRow): StoredApiKey => ({
  ...(JSON.parse(row.body) as ApiKeyRecord),
  version: row.version,
});
