// A short soak in the e2e suite (SOAK_DURATION, default 2m here): see
// soak.mjs for the load and the verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSoak, parseDuration } from './soak.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

test('soak: 0 errors; anonymous RSS, data file, goroutines and open files flat after warm-up', async () => {
  const durationMs = parseDuration(process.env.SOAK_DURATION || '2m');
  const outDir = process.env.SOAK_OUT || path.join(here, '..', 'artifacts', 'soak');
  const r = await runSoak({ durationMs, outDir, log: (s) => console.log(s.split('\n').map((l) => `# ${l}`).join('\n')) });
  assert.equal(r.errorCount, 0, `errors: ${r.errors.join('; ')}`);
  for (const [name, v] of Object.entries(r.verdict)) {
    assert.ok(v.ok, `${name} grew after warm-up: ${v.early} -> ${v.late} (limit ${v.limit})`);
  }
});
