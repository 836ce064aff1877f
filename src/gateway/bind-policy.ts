/**
 * Where the gateway may listen. Loopback is the default and always allowed. Anywhere else, API keys
 * and the admin token would cross a network: that needs TLS, or an explicit --insecure (e.g. behind
 * a TLS-terminating proxy on a private network).
 */
import { isIP } from 'node:net';

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/** Why the gateway must not listen on `host` as configured, or undefined when it may. */
export function bindRefusal(host: string, tls: boolean, insecure: boolean): string | undefined {
  if (isLoopback(host) || tls || insecure) return undefined;
  return `refusing to listen on ${host} without TLS: API keys and the admin token would cross the network in clear`;
}
