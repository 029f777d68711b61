import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSkiff } from './helpers.js';

const ARGS = [
  'analyze',
  '-n',
  'istioinaction',
  'examples/lab/base',
  'examples/lab/routing/catalog-virtualservice-v1-v2.yaml',
];

test('--color wraps only the level word in istioctl colours', async () => {
  const run = await runSkiff([...ARGS, '--color']);
  const first = run.stdout.split('\n')[0] ?? '';
  assert.ok(
    first.startsWith('\u001b[1;31mError\u001b[0m [IST0101] (VirtualService istioinaction/catalog-v1-v2 '),
    first,
  );
  assert.equal(run.code, 79);
});

test('output to a pipe is not coloured unless asked, and --color=false turns it off', async () => {
  for (const extra of [[], ['--color=false']]) {
    const run = await runSkiff([...ARGS, ...extra]);
    assert.ok(!run.stdout.includes('\u001b['), run.stdout);
    assert.match(run.stdout, /^Error \[IST0101\]/);
  }
});
