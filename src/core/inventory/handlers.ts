import type { Inventory } from '../../shared/contract/inventory';
import type { HandlerGroup } from '../rpc/handlers';
import { buildInventory, type RecordedGpu } from './inventory';

export interface InventoryService {
  get(refresh?: boolean): Promise<Inventory>;
  handlers(): HandlerGroup<'inventory.get'>;
}

/** Live inventory, cached for `ttlMs` (a refresh param forces a fresh read). */
export function createInventoryService(options: { root?: string; ttlMs?: number; recorded?: ReadonlyMap<string, RecordedGpu>; pciIdsFromThisMachine?: boolean } = {}): InventoryService {
  const root = options.root ?? '/';
  const ttl = options.ttlMs ?? 30_000;
  let cached: { at: number; value: Promise<Inventory> } | null = null;
  const get = (refresh = false): Promise<Inventory> => {
    if (!refresh && cached && Date.now() - cached.at < ttl) return cached.value;
    const value = buildInventory({ root, live: root === '/', recorded: options.recorded, pciIdsFromThisMachine: options.pciIdsFromThisMachine });
    cached = { at: Date.now(), value };
    value.catch(() => {
      cached = null;
    });
    return value;
  };
  return {
    get,
    handlers: () => ({ 'inventory.get': (params) => get(params?.refresh ?? false) }),
  };
}
