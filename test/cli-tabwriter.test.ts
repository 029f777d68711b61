import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TABWRITER_FLAGS, TabWriter, tabulate } from '../src/cli/index.js';

const ISTIOCTL = { minwidth: 0, tabwidth: 8, padding: 5, padchar: ' ' };

test('istioctl proxy-status header (proxystatus_test.go expectation)', () => {
  assert.equal(
    tabulate('NAME\tCLUSTER\tISTIOD\tVERSION\tSUBSCRIBED TYPES\n', ISTIOCTL),
    'NAME     CLUSTER     ISTIOD     VERSION     SUBSCRIBED TYPES\n',
  );
});

test('columns take the widest cell plus padding; the trailing cell is never padded', () => {
  const out = tabulate('A\tB\tC\nlonger\tx\ty\n', ISTIOCTL);
  assert.equal(out, 'A          B     C\nlonger     x     y\n');
  assert.ok(!out.split('\n').some((l) => l.endsWith(' ')));
});

test('an empty trailing cell after a tab pads the cell before it', () => {
  assert.equal(tabulate('AB\tTYPE\t\nx\tEDS\t\n', ISTIOCTL), 'AB     TYPE     \nx      EDS      \n');
});

test('a line without tabs flushes, so alignment restarts after it', () => {
  const out = tabulate('a\tb\nno tabs here\nlonger-cell\td\n', ISTIOCTL);
  assert.equal(out, 'a     b\nno tabs here\nlonger-cell     d\n');
});

test('column blocks: a shorter line closes the block of the columns it lacks', () => {
  // Go's Example_elastic: AlignRight|Debug, padding 1, padchar '.'
  const w = new TabWriter({
    minwidth: 0,
    tabwidth: 0,
    padding: 1,
    padchar: '.',
    flags: TABWRITER_FLAGS.AlignRight | TABWRITER_FLAGS.Debug,
  });
  w.write('a\tb\tc\n').write('aa\tbb\tcc\n').write('aaa\t\n').write('aaaa\tdddd\teeee\n');
  assert.equal(w.flush(), '....a|..b|c\n...aa|.bb|cc\n..aaa|\n.aaaa|.dddd|eeee\n');
});

test('trailing tab example: only tab-terminated cells are aligned', () => {
  const w = new TabWriter({
    minwidth: 0,
    tabwidth: 0,
    padding: 3,
    padchar: '-',
    flags: TABWRITER_FLAGS.AlignRight | TABWRITER_FLAGS.Debug,
  });
  w.write('a\tb\taligned\t\naa\tbb\taligned\t\naaa\tbbb\tunaligned\naaaa\tbbbb\taligned\t\n');
  assert.equal(
    w.flush(),
    '------a|------b|---aligned|\n-----aa|-----bb|---aligned|\n----aaa|----bbb|unaligned\n---aaaa|---bbbb|---aligned|\n',
  );
});

test('tab padding rounds cells up to tabwidth; minwidth and AlignRight with spaces', () => {
  const rows = 'a\tb\tc\td\t.\n123\t12345\t1234567\t123456789\t.\n';
  assert.equal(
    tabulate(rows, { minwidth: 0, tabwidth: 8, padding: 0, padchar: '\t' }),
    'a\tb\tc\td\t\t.\n123\t12345\t1234567\t123456789\t.\n',
  );
  assert.equal(
    tabulate(rows, { minwidth: 5, tabwidth: 0, padding: 1, padchar: ' ', flags: TABWRITER_FLAGS.AlignRight }),
    '    a     b       c         d.\n  123 12345 1234567 123456789.\n',
  );
});

test('widths count code points, not bytes or UTF-16 units', () => {
  assert.equal(tabulate('✔\tok\nab\tno\n', ISTIOCTL), '✔      ok\nab     no\n');
  assert.equal(tabulate('😀\tx\nab\ty\n', ISTIOCTL), '😀      x\nab     y\n');
});

test('writes may split cells and lines anywhere; flush emits text without a final newline', () => {
  const w = new TabWriter(ISTIOCTL);
  w.write('NA').write('ME\tV').write('AL\nx\t');
  w.write('y');
  assert.equal(w.flush(), 'NAME     VAL\nx        y');
  assert.equal(w.flush(), '');
});

test('DiscardEmptyColumns drops columns whose cells are all empty (\\v-terminated)', () => {
  const opts = { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' };
  assert.equal(tabulate('a\v\vb\nc\v\vd\n', opts), 'a  b\nc  d\n');
  assert.equal(
    tabulate('a\v\vb\nc\v\vd\n', { ...opts, flags: TABWRITER_FLAGS.DiscardEmptyColumns }),
    'a b\nc d\n',
  );
});
