import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';

const TEXT = `# heading comment
apiVersion: v1
kind: Namespace
metadata:
  name: a
---

# a comment above the second object
apiVersion: v1
kind: Namespace
metadata:
  name: b
---
apiVersion: v1
kind: Namespace
metadata:
  name: c
`;

test('an object starts on the first line of its document that is not blank or ---, comments included', () => {
  for (const fullCompose of [false, true]) {
    const parsed = parseManifests(TEXT, 'ns.yaml', { fullCompose });
    assert.deepEqual(
      parsed.resources.map((r) => [r.metadata.name, r.origin.line]),
      [
        ['a', 1],
        ['b', 8],
        ['c', 14],
      ],
    );
    // Field lines stay the lines of the fields themselves.
    assert.equal(parsed.resources[1]?.origin.lineOf('{.metadata.name}'), 12);
  }
});
