/**
 * Unified diffs as istioctl prints them: a port of the behaviour of `github.com/pmezard/go-difflib`
 * (itself Python's difflib): SequenceMatcher with the "popular element" heuristic for sequences of 200
 * lines or more, grouped opcodes with `n` lines of context, and `GetUnifiedDiffString` formatting
 * (`--- from` / `+++ to` headers, `@@ -a,b +c,d @@` hunks, lines keep their own newlines).
 */

type Tag = 'r' | 'd' | 'i' | 'e';

interface OpCode {
  tag: Tag;
  i1: number;
  i2: number;
  j1: number;
  j2: number;
}

interface Match {
  a: number;
  b: number;
  size: number;
}

/** difflib.SplitLines: split after each newline; the last line always ends in one. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\n') {
      lines.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  lines.push(`${text.slice(start)}\n`);
  return lines;
}

class SequenceMatcher {
  private readonly b2j = new Map<string, number[]>();

  constructor(
    private readonly a: readonly string[],
    private readonly b: readonly string[],
  ) {
    b.forEach((line, i) => {
      const list = this.b2j.get(line);
      if (list) list.push(i);
      else this.b2j.set(line, [i]);
    });
    // autojunk: in long sequences, lines occurring in more than 1% of b are not used as match anchors.
    const n = b.length;
    if (n >= 200) {
      const ntest = Math.floor(n / 100) + 1;
      for (const [line, indices] of [...this.b2j]) if (indices.length > ntest) this.b2j.delete(line);
    }
  }

  private longestMatch(alo: number, ahi: number, blo: number, bhi: number): Match {
    let besti = alo;
    let bestj = blo;
    let bestsize = 0;
    let j2len = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>();
      for (const j of this.b2j.get(this.a[i] as string) ?? []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (j2len.get(j - 1) ?? 0) + 1;
        next.set(j, k);
        if (k > bestsize) {
          besti = i - k + 1;
          bestj = j - k + 1;
          bestsize = k;
        }
      }
      j2len = next;
    }
    // No junk function: only popular lines were left out of b2j, and they may extend a match.
    while (besti > alo && bestj > blo && this.a[besti - 1] === this.b[bestj - 1]) {
      besti--;
      bestj--;
      bestsize++;
    }
    while (
      besti + bestsize < ahi &&
      bestj + bestsize < bhi &&
      this.a[besti + bestsize] === this.b[bestj + bestsize]
    ) {
      bestsize++;
    }
    return { a: besti, b: bestj, size: bestsize };
  }

  private matchingBlocks(): Match[] {
    const la = this.a.length;
    const lb = this.b.length;
    const queue: [number, number, number, number][] = [[0, la, 0, lb]];
    const blocks: Match[] = [];
    while (queue.length > 0) {
      const [alo, ahi, blo, bhi] = queue.pop() as [number, number, number, number];
      const m = this.longestMatch(alo, ahi, blo, bhi);
      if (m.size > 0) {
        blocks.push(m);
        if (alo < m.a && blo < m.b) queue.push([alo, m.a, blo, m.b]);
        if (m.a + m.size < ahi && m.b + m.size < bhi) queue.push([m.a + m.size, ahi, m.b + m.size, bhi]);
      }
    }
    blocks.sort((x, y) => x.a - y.a || x.b - y.b || x.size - y.size);
    const merged: Match[] = [];
    let cur: Match = { a: 0, b: 0, size: 0 };
    for (const m of blocks) {
      if (cur.a + cur.size === m.a && cur.b + cur.size === m.b) cur = { ...cur, size: cur.size + m.size };
      else {
        if (cur.size > 0) merged.push(cur);
        cur = m;
      }
    }
    if (cur.size > 0) merged.push(cur);
    merged.push({ a: la, b: lb, size: 0 });
    return merged;
  }

  opCodes(): OpCode[] {
    let i = 0;
    let j = 0;
    const out: OpCode[] = [];
    for (const m of this.matchingBlocks()) {
      let tag: Tag | undefined;
      if (i < m.a && j < m.b) tag = 'r';
      else if (i < m.a) tag = 'd';
      else if (j < m.b) tag = 'i';
      if (tag) out.push({ tag, i1: i, i2: m.a, j1: j, j2: m.b });
      i = m.a + m.size;
      j = m.b + m.size;
      if (m.size > 0) out.push({ tag: 'e', i1: m.a, i2: i, j1: m.b, j2: j });
    }
    return out;
  }

  groupedOpCodes(n: number): OpCode[][] {
    let codes = this.opCodes();
    if (codes.length === 0) codes = [{ tag: 'e', i1: 0, i2: 1, j1: 0, j2: 1 }];
    const first = codes[0] as OpCode;
    if (first.tag === 'e') {
      codes[0] = { ...first, i1: Math.max(first.i1, first.i2 - n), j1: Math.max(first.j1, first.j2 - n) };
    }
    const last = codes[codes.length - 1] as OpCode;
    if (last.tag === 'e') {
      codes[codes.length - 1] = {
        ...last,
        i2: Math.min(last.i2, last.i1 + n),
        j2: Math.min(last.j2, last.j1 + n),
      };
    }
    const groups: OpCode[][] = [];
    let group: OpCode[] = [];
    for (const c of codes) {
      let { i1, j1 } = c;
      if (c.tag === 'e' && c.i2 - c.i1 > 2 * n) {
        group.push({ tag: 'e', i1, i2: Math.min(c.i2, i1 + n), j1, j2: Math.min(c.j2, j1 + n) });
        groups.push(group);
        group = [];
        i1 = Math.max(i1, c.i2 - n);
        j1 = Math.max(j1, c.j2 - n);
      }
      group.push({ tag: c.tag, i1, i2: c.i2, j1, j2: c.j2 });
    }
    if (group.length > 0 && !(group.length === 1 && group[0]?.tag === 'e')) groups.push(group);
    return groups;
  }
}

function formatRange(start: number, stop: number): string {
  let beginning = start + 1;
  const length = stop - start;
  if (length === 1) return `${beginning}`;
  if (length === 0) beginning -= 1;
  return `${beginning},${length}`;
}

/** difflib.GetUnifiedDiffString; '' when the sequences are equal. */
export function unifiedDiff(
  a: readonly string[],
  b: readonly string[],
  fromFile: string,
  toFile: string,
  context: number,
): string {
  let out = '';
  let started = false;
  for (const group of new SequenceMatcher(a, b).groupedOpCodes(context)) {
    if (!started) {
      started = true;
      if (fromFile !== '' || toFile !== '') out += `--- ${fromFile}\n+++ ${toFile}\n`;
    }
    const first = group[0] as OpCode;
    const last = group[group.length - 1] as OpCode;
    out += `@@ -${formatRange(first.i1, last.i2)} +${formatRange(first.j1, last.j2)} @@\n`;
    for (const c of group) {
      if (c.tag === 'e') {
        for (const line of a.slice(c.i1, c.i2)) out += ` ${line}`;
        continue;
      }
      if (c.tag === 'r' || c.tag === 'd') for (const line of a.slice(c.i1, c.i2)) out += `-${line}`;
      if (c.tag === 'r' || c.tag === 'i') for (const line of b.slice(c.j1, c.j2)) out += `+${line}`;
    }
  }
  return out;
}
