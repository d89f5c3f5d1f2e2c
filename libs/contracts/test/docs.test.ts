import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, REQUESTS } from '../src';

describe('docs/events.md', () => {
  const doc = readFileSync(new URL('../../../docs/events.md', import.meta.url), 'utf8');
  it('documents every event and request of the catalogue, and nothing that does not exist', () => {
    for (const type of EVENT_TYPES) expect(doc).toContain(`| \`${type}\``);
    for (const subject of Object.keys(REQUESTS)) expect(doc).toContain(`| \`${subject}\``);
    const documented = [...doc.matchAll(/^\| `([a-z.-]+)` \|/gm)].map((m) => m[1]);
    for (const name of documented) expect([...EVENT_TYPES, ...Object.keys(REQUESTS)]).toContain(name);
  });
});
