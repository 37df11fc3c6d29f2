import { ESLint } from 'eslint';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: resolve(__dirname, '../../..') });

async function lintAs(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(__dirname, '../../..', filePath) });
  return (result?.messages ?? []).filter((message) => message.ruleId === 'no-restricted-imports').map((message) => message.message);
}

describe('layer import rules (eslint)', () => {
  it.each([
    ['src/core/x.ts', "import { app } from 'electron';\nexport const a = app;\n"],
    ['src/shared/x.ts', "import { app } from 'electron';\nexport const a = app;\n"],
    ['src/renderer/src/x.ts', "import { app } from 'electron';\nexport const a = app;\n"],
    ['src/renderer/src/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n"],
    ['src/shared/x.ts', "import { join } from 'node:path';\nexport const a = join;\n"],
    ['src/renderer/src/x.ts', "import { join } from 'path';\nexport const a = join;\n"],
  ])('%s refuses a forbidden import', async (file, code) => {
    expect((await lintAs(file, code)).length).toBe(1);
  });

  it('lets main import electron and core import node:', async () => {
    expect(await lintAs('src/main/x.ts', "import { app } from 'electron';\nexport const a = app;\n")).toEqual([]);
    expect(await lintAs('src/core/x.ts', "import { join } from 'node:path';\nexport const a = join;\n")).toEqual([]);
  });
});
