/**
 * Declarative entities (`models apply` and `models diff`): compare what the files say with what
 * the gateway has, field by field, and plan the creates, updates and (with --prune) deletes.
 */
import { redactEntity, type EmbeddingModelEntity } from '../core/entity.js';
import type { StoredEntityView } from '../client/gateway-client.js';

export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

export type PlanAction = 'create' | 'update' | 'unchanged' | 'delete';

export interface PlanItem {
  action: PlanAction;
  id: string;
  changes: Change[];
  desired?: EmbeddingModelEntity;
}

/**
 * What can be compared: secrets as the gateway shows them (the live entity comes redacted already;
 * redacting it twice would turn `sk-…3f9a` into `…` and report a change that is not there), without
 * server-managed fields.
 */
function comparable(entity: EmbeddingModelEntity | StoredEntityView, keepPricing: boolean): Record<string, unknown> {
  const { created_at, updated_at, pricing, ...rest } = entity as StoredEntityView;
  return keepPricing && pricing !== undefined ? { ...rest, pricing } : rest;
}

function walk(before: unknown, after: unknown, path: string, out: Change[]): void {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      walk(before[key], after[key], path ? `${path}.${key}` : key, out);
    }
    return;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out.push({ path, before, after });
}

/** The fields that differ. A file without `pricing` leaves the gateway's list price alone. */
export function diffEntity(desired: EmbeddingModelEntity, live: StoredEntityView): Change[] {
  const keepPricing = desired.pricing !== undefined;
  const changes: Change[] = [];
  walk(comparable(live, keepPricing), comparable(redactEntity(desired), keepPricing), '', changes);
  return changes;
}

export function planApply(desired: EmbeddingModelEntity[], live: StoredEntityView[], prune: boolean): PlanItem[] {
  const byId = new Map(live.map((e) => [e.id, e]));
  const plan: PlanItem[] = desired.map((entity) => {
    const current = byId.get(entity.id);
    if (!current) return { action: 'create', id: entity.id, changes: [], desired: entity };
    const changes = diffEntity(entity, current);
    return { action: changes.length ? 'update' : 'unchanged', id: entity.id, changes, desired: entity };
  });
  if (prune) {
    const wanted = new Set(desired.map((e) => e.id));
    for (const entity of live) if (!wanted.has(entity.id)) plan.push({ action: 'delete', id: entity.id, changes: [] });
  }
  return plan;
}

const show = (value: unknown) => (value === undefined ? '(unset)' : JSON.stringify(value));

/** One line per item, then one per changed field: what a person reads before saying yes. */
export function describePlan(plan: PlanItem[]): string[] {
  const lines: string[] = [];
  const marks: Record<PlanAction, string> = { create: '+', update: '~', unchanged: '=', delete: '-' };
  for (const item of plan) {
    lines.push(`${marks[item.action]} ${item.id} (${item.action === 'unchanged' ? 'no change' : item.action})`);
    for (const change of item.changes) lines.push(`    ${change.path}: ${show(change.before)} → ${show(change.after)}`);
  }
  return lines;
}
