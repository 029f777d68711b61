/**
 * histogram_quantile as PromQL computes it, the Prometheus text parser, and counter increases between two
 * scrapes. The expected quantiles were worked out by hand from Prometheus' documented algorithm and
 * checked with `promtool test rules` (Prometheus 2.42) on the same buckets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  histogramBuckets,
  histogramQuantile,
  increase,
  parseExposition,
  parseSampleLine,
  parseSampleValue,
  perSecond,
  sumBy,
  sumOf,
} from '../src/cli/index.js';
import type { Bucket } from '../src/cli/index.js';

const b = (pairs: [number, number][]): Bucket[] =>
  pairs.map(([upperBound, count]) => ({ upperBound, count }));
const A = b([
  [0.1, 10],
  [0.5, 20],
  [1, 30],
  [Infinity, 40],
]);

describe('histogramQuantile (PromQL semantics)', () => {
  it('interpolates linearly inside the bucket holding the rank', () => {
    assert.equal(histogramQuantile(0.5, A), 0.5); // rank 20: top of (0.1, 0.5]
    assert.ok(Math.abs(histogramQuantile(0.6, A) - 0.7) < 1e-12); // rank 24: 0.5 + 0.5·4/10
    assert.ok(Math.abs(histogramQuantile(0.1, A) - 0.04) < 1e-12); // rank 4 in the first bucket, from 0
    assert.equal(histogramQuantile(0.25, A), 0.1);
    assert.equal(histogramQuantile(0, A), 0);
  });

  it('gives the highest finite bound when the rank falls in the +Inf bucket', () => {
    assert.equal(histogramQuantile(0.9, A), 1);
    assert.equal(histogramQuantile(0.999, A), 1);
  });

  it('is NaN without observations, without a +Inf bucket, or with fewer than two buckets', () => {
    assert.ok(
      Number.isNaN(
        histogramQuantile(
          0.5,
          b([
            [1, 0],
            [Infinity, 0],
          ]),
        ),
      ),
    );
    assert.ok(
      Number.isNaN(
        histogramQuantile(
          0.5,
          b([
            [1, 3],
            [2, 4],
          ]),
        ),
      ),
    );
    assert.ok(Number.isNaN(histogramQuantile(0.5, b([[Infinity, 4]]))));
    assert.ok(Number.isNaN(histogramQuantile(0.5, [])));
    assert.ok(Number.isNaN(histogramQuantile(NaN, A)));
  });

  it('returns ±Inf for q outside [0, 1]', () => {
    assert.equal(histogramQuantile(-1, A), -Infinity);
    assert.equal(histogramQuantile(2, A), Infinity);
  });

  it('returns a non-positive first bound as is, and interpolates from the previous bound after it', () => {
    const f = b([
      [-1, 5],
      [0, 5],
      [1, 10],
      [Infinity, 10],
    ]);
    assert.equal(histogramQuantile(0.2, f), -1);
    assert.equal(histogramQuantile(0.75, f), 0.5);
  });

  it('forces counts to be monotonic, and adds buckets with the same bound', () => {
    const h = b([
      [1, 5],
      [2, 3],
      [Infinity, 6],
    ]);
    assert.equal(histogramQuantile(0.5, h), 0.6);
    assert.equal(histogramQuantile(0.9, h), 2);
    // Unsorted input with a duplicate bound: (1: 1+2), (+Inf: 4).
    assert.equal(
      histogramQuantile(
        0.5,
        b([
          [Infinity, 4],
          [1, 1],
          [1, 2],
        ]),
      ),
      2 / 3,
    );
  });

  it('sums buckets across label sets like sum by (le)', () => {
    const text = [
      'e_bucket{type="a",le="1"} 2',
      'e_bucket{type="a",le="+Inf"} 2',
      'e_bucket{type="b",le="1"} 1',
      'e_bucket{type="b",le="2"} 3',
      'e_bucket{type="b",le="+Inf"} 4',
    ].join('\n');
    const { samples } = parseExposition(text);
    const buckets = histogramBuckets(samples, 'e');
    assert.deepEqual(
      buckets,
      b([
        [1, 3],
        [2, 3],
        [Infinity, 6],
      ]),
    );
    assert.equal(histogramQuantile(0.5, buckets), 1);
    assert.equal(histogramQuantile(0.75, buckets), 2);
    assert.equal(histogramQuantile(0.5, histogramBuckets(samples, 'e', { type: 'b' })), 1.5);
    assert.deepEqual(histogramBuckets(samples, 'missing'), []);
  });
});

describe('Prometheus text format', () => {
  it('reads HELP, TYPE, labels with escapes, special values and timestamps', () => {
    const text = [
      '# HELP pilot_xds Number of endpoints connected to this pilot using XDS.',
      '# TYPE pilot_xds gauge',
      'pilot_xds{version="1.17.8"} 4',
      '# TYPE x counter',
      'x{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 1.5e3 1700000000000',
      'x{a="inf"} +Inf',
      'x{a="nan"} NaN',
      'y -Inf',
      'garbage line here',
      'z{unterminated="x} 1',
      '',
    ].join('\n');
    const e = parseExposition(text);
    assert.equal(e.types.get('pilot_xds'), 'gauge');
    assert.equal(e.help.get('pilot_xds'), 'Number of endpoints connected to this pilot using XDS.');
    assert.equal(e.skipped, 2);
    assert.deepEqual(e.samples[0], { name: 'pilot_xds', labels: { version: '1.17.8' }, value: 4 });
    assert.deepEqual(e.samples[1]?.labels, { a: 'q"uote', b: 'back\\slash', c: 'new\nline' });
    assert.equal(e.samples[1]?.value, 1500);
    assert.equal(e.samples[2]?.value, Infinity);
    assert.ok(Number.isNaN(e.samples[3]?.value));
    assert.equal(e.samples[4]?.value, -Infinity);
  });

  it('refuses malformed samples without throwing', () => {
    assert.equal(parseSampleLine('1abc 3'), undefined);
    assert.equal(parseSampleLine('a{b=c} 1'), undefined);
    assert.equal(parseSampleLine('a 1 2 3'), undefined);
    assert.equal(parseSampleLine('a one'), undefined);
    assert.equal(parseSampleValue('0x10'), undefined);
    assert.deepEqual(parseSampleLine('a{} 7'), { name: 'a', labels: {}, value: 7 });
  });

  it('sums by a label and in total; no series is undefined, as PromQL gives an empty result', () => {
    const { samples } = parseExposition('p{type="cds"} 2\np{type="eds"} 3\np{type="cds",x="1"} 1\n');
    assert.deepEqual(
      [...sumBy(samples, 'p', 'type')],
      [
        ['cds', 3],
        ['eds', 3],
      ],
    );
    assert.equal(sumOf(samples, 'p'), 6);
    assert.equal(sumOf(samples, 'p', { type: 'eds' }), 3);
    assert.equal(sumOf(samples, 'q'), undefined);
  });
});

describe('increase between two scrapes', () => {
  it('subtracts, treats a drop as a counter reset, and counts new series from zero', () => {
    const before = parseExposition('c{t="a"} 10\nc{t="b"} 50\n').samples;
    const after = parseExposition('c{t="a"} 25\nc{t="b"} 4\nc{t="new"} 3\n').samples;
    const inc = increase(before, after);
    assert.deepEqual(
      inc.map((s) => [s.labels['t'], s.value]),
      [
        ['a', 15],
        ['b', 4],
        ['new', 3],
      ],
    );
    assert.deepEqual(
      perSecond(inc, 5).map((s) => s.value),
      [3, 0.8, 0.6],
    );
  });
});
