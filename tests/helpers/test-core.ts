import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore, type Core } from '../../src/core/core';

/** A real core with its files in a fresh temporary folder. */
export function createTestCore(shell: 'desktop' | 'web' = 'web'): Core {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bridge-test-'));
  return createCore({ shell, paths: { configDir: join(dir, 'config'), stateDir: join(dir, 'state') }, log: () => undefined });
}
