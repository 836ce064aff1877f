/**
 * Opens the store a gateway runs on: SQLite in the data dir by default, PostgreSQL for a
 * `postgres://` URL (several gateways sharing one database). Either way upstream credentials are
 * sealed by the layer in `sealed.ts`.
 */
import { sealedStore } from './sealed.js';
import { openSecretBox } from './secret-box.js';
import { openSqliteStore } from './sqlite/index.js';
import type { Store } from './store.js';

export interface StoreOptions {
  dataDir: string;
  /** `postgres://user:pass@host:port/db` (or `postgresql://`); undefined: SQLite in the data dir. */
  url?: string;
  env: NodeJS.ProcessEnv;
  secretKeyFile?: string;
  onError: (message: string) => void;
}

export class InvalidStoreUrl extends Error {
  override name = 'InvalidStoreUrl';
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const { url, env, secretKeyFile } = options;
  if (url === undefined || url === '') {
    // The engine first: it creates the data dir that secret.key lives in.
    const store = openSqliteStore(options.dataDir);
    try {
      return sealedStore(store, openSecretBox({ env, keyFile: secretKeyFile, dataDir: options.dataDir }));
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new InvalidStoreUrl(
      `the store URL must start with postgres:// or postgresql:// (got '${url.replace(/:[^:@/]*@/, ':***@').slice(0, 80)}'); ` +
        'leave it unset for SQLite in the data dir',
    );
  // Checked before connecting: a replica without the shared key must not start at all.
  const box = openSecretBox({ env, keyFile: secretKeyFile });
  // Loaded on demand: a SQLite gateway (and every CLI command) never pays for the driver.
  const { openPostgresStore } = await import('./postgres/index.js');
  return sealedStore(await openPostgresStore(url, options.onError), box);
}
