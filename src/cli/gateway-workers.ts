/**
 * `gateway start --workers N`: N gateway processes on one port (node:cluster hands connections out
 * round-robin), one per core. Each worker opens the store itself; limits, budgets, Request Logs and
 * the live stream are shared through it, exactly as between replicas. The primary only checks the
 * port, forks, says where the gateway listens once all workers do, replaces a worker that dies,
 * and on SIGINT/SIGTERM stops them all (each drains its in-flight requests) before it exits.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError, ExitCode } from '../core/errors.js';
import type { CliContext } from './context.js';

/** What a worker tells the primary once it listens. */
export interface WorkerMessage {
  listening: string;
  store: string;
}

/** In a worker: how to reach the primary; undefined in a process of its own. */
export function workerChannel(): ((message: WorkerMessage) => void) | undefined {
  const worker = cluster.worker;
  return worker ? (message) => void worker.send(message) : undefined;
}

/** A worker that dies this soon after its start is failing to start, not crashing: stop, do not loop. */
const MIN_LIFETIME_MS = 5000;

export interface WorkersPlan {
  count: number;
  host: string;
  port: number;
  /** Written with the primary's pid once every worker listens, removed when they all stopped. */
  pidFile: string;
  /** The error to show for a port in use. */
  portInUse: (error: { host: string; port: number }) => Error;
}

export async function runWorkers(plan: WorkersPlan, ctx: CliContext, stop: AbortSignal): Promise<void> {
  const { count } = plan;
  const { PortInUse, ensurePortFree } = await import('../gateway/start.js');
  await ensurePortFree(plan.host, plan.port).catch((error: unknown) => {
    throw error instanceof PortInUse ? plan.portInUse(error) : error;
  });
  const args = ctx.host.argv.slice(2);
  cluster.setupPrimary({ exec: ctx.host.argv[1]!, args });

  const listening = new Map<number, WorkerMessage>();
  const startedAt = new Map<number, number>();
  let stopping = false;
  let announced = false;
  let failure: CliError | undefined;
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => (settle = resolve));

  /** Workers forked and not yet exited. */
  const alive = new Set<number>();
  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    alive.add(worker.id);
    worker.on('message', (message: WorkerMessage) => {
      if (!message?.listening) return;
      listening.set(worker.id, message);
      if (!announced && listening.size === count) {
        announced = true;
        mkdirSync(dirname(plan.pidFile), { recursive: true, mode: 0o700 });
        writeFileSync(plan.pidFile, `${ctx.host.pid}\n`);
        ctx.out.info(`store: ${message.store}; ${count} workers (pids ${workerPids().join(', ')})`);
        ctx.out.text(`embctl gateway listening on ${message.listening}`);
      }
    });
    return worker;
  };
  const workerPids = () => Object.values(cluster.workers ?? {}).map((w) => (w as Worker).process.pid);

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    alive.delete(worker.id);
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    if (!stopping) {
      if (!announced || lived < MIN_LIFETIME_MS) {
        failure = new CliError(
          `a gateway worker (pid ${worker.process.pid}) ended ${signal ? `by ${signal}` : `with exit code ${code}`} ` +
            'while starting; its error is above',
          ExitCode.failure,
          'fix what it reports, then start again',
        );
        stopAll();
      } else {
        ctx.out.warn(`worker ${worker.process.pid} ended (${signal ?? `exit ${code}`}); starting a replacement`);
        fork();
      }
    }
    // Counted here, not from cluster.workers: a worker leaves that list only once both its 'exit' and its
    // 'disconnect' are seen, in either order, so the last exit may find itself still listed.
    if (stopping && alive.size === 0) settle();
  });

  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}) as Worker[];
    if (alive.size === 0) settle();
    for (const worker of workers) worker.process.kill('SIGTERM');
  };
  stop.addEventListener('abort', () => {
    ctx.out.info(`${String(stop.reason)}: stopping ${count} workers…`);
    stopAll();
  });

  for (let i = 0; i < count; i++) fork();
  await done;
  rmSync(plan.pidFile, { force: true });
  if (failure) throw failure;
  ctx.out.info('gateway stopped');
}
