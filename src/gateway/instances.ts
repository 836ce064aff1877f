/** Gateways sharing a store report themselves in it, so that any of them can list the others. */
import type { InstanceBeat, Store } from '../store/store.js';

/** How often a gateway reports itself in the store, and how recent a report must be to be listed. */
export const HEARTBEAT_MS = 5000;
export const INSTANCE_SEEN_WINDOW_MS = 30_000;

export function startHeartbeat(store: Store, self: Omit<InstanceBeat, 'seen_at'>): () => void {
  // A missed beat only makes `gateway status` list this gateway a little late: never an error.
  const beat = () => void store.instances.beat({ ...self, seen_at: Date.now() }).catch(() => undefined);
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}
