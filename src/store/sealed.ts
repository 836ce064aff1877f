/**
 * Upstream credentials sealed at rest, as a layer over any store: entities are sealed on the way
 * in and opened on the way out, so the engines below only ever hold ciphertext. An entity whose
 * credentials cannot be opened is kept and marked `unreadable` rather than failing every read.
 */
import { mapSecrets, type EmbeddingModelEntity, type StoredEntity } from '../core/entity.js';
import { UnreadableSecret, type SecretBox } from './secret-box.js';
import type { EntityStore, Store } from './store.js';

export function sealedStore(store: Store, box: SecretBox): Store {
  const seal = <T extends EmbeddingModelEntity>(entity: T): T => mapSecrets(entity, box.seal);
  const open = (entity: StoredEntity): StoredEntity => {
    try {
      return mapSecrets(entity, box.open);
    } catch (error) {
      if (!(error instanceof UnreadableSecret)) throw error;
      return { ...mapSecrets(entity, () => ''), unreadable: error.message };
    }
  };
  const raw = store.entities;
  const entities: EntityStore = {
    list: async () => (await raw.list()).map(open),
    get: async (id) => {
      const entity = await raw.get(id);
      return entity && open(entity);
    },
    create: async (entity) => open(await raw.create(seal(entity))),
    replace: async (id, entity, expectedVersion) => open(await raw.replace(id, seal(entity), expectedVersion)),
    delete: (id, expectedVersion) => raw.delete(id, expectedVersion),
  };
  return {
    ...store,
    entities,
    bootstrap: (seed) => store.bootstrap({ ...seed, entity: seal(seed.entity) }),
  };
}
