/** Naming what holds a port, for the message of a gateway that could not start. */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Who listens on a TCP port, best effort from /proc (Linux): `pid 123 (node …)`, else undefined.
 * Only for the message of a failed start.
 */
export function listenerOf(port: number): string | undefined {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(table)) continue;
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A') inodes.add(fields[9]!);
      }
    }
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        const target = readlinkSafe(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target ?? '')?.[1];
        if (inode && inodes.has(inode)) {
          const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
          return `pid ${pid} (${command.slice(0, 80)})`;
        }
      }
    }
  } catch {
    // Not Linux, or /proc unreadable: the message goes without it.
  }
  return undefined;
}

function readlinkSafe(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
