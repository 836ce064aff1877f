/**
 * The gateway built in this process and called through Fastify's `inject`: no socket, no spawned
 * process, no build step, breakpoints work. For route-level tests; what needs a real process
 * (signals, crash safety, the CLI against a live gateway) uses `spawnGateway`.
 */
import type { FastifyInstance } from 'fastify';
import { buildGateway, type GatewayOptions } from '../../src/gateway/start.js';
import { tempDir } from './cli.js';

export interface InjectedGateway {
  /** A made-up origin that `call()` in http.ts routes to this app. */
  url: string;
  apiKey: string;
  adminToken: string;
  dataDir: string;
  app: FastifyInstance;
  /** Also listens on a loopback port, for clients that need a socket (the openai SDK); returns its URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const apps = new Map<string, FastifyInstance>();
let built = 0;

export async function injectGateway(
  options: Partial<Omit<GatewayOptions, 'host' | 'port'>> = {},
): Promise<InjectedGateway> {
  const dataDir = options.dataDir ?? tempDir('inject');
  const gateway = await buildGateway({ ...options, dataDir });
  await gateway.app.ready();
  const url = `http://gateway-${++built}.inject.test`;
  apps.set(url, gateway.app);
  return {
    url,
    apiKey: gateway.bootstrap?.apiKey ?? '',
    adminToken: options.adminToken ?? gateway.bootstrap?.adminToken ?? '',
    dataDir,
    app: gateway.app,
    listen: async () => gateway.app.listen({ host: '127.0.0.1', port: 0 }),
    async close() {
      apps.delete(url);
      await gateway.close();
    },
  };
}

/** The in-process app serving `url`'s origin, if a test built one. */
export function injectedApp(url: string): FastifyInstance | undefined {
  return apps.get(new URL(url).origin);
}
