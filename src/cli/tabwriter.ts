/**
 * A TypeScript rendition of Go's `text/tabwriter`, so skiff's tables line up byte for byte with
 * istioctl's. Text is cut into cells at tabs (`\t`, or `\v` for a cell that is not a tab stop);
 * a line's last cell is its trailing cell and is never aligned. Column widths are computed per
 * column block: a run of consecutive lines that all have a tab-terminated cell in that column.
 * A line without any tab (or a form feed) flushes, so alignment restarts after it.
 */

/** The formatting flags of Go's tabwriter (same bit values). */
export const TABWRITER_FLAGS = {
  FilterHTML: 1 << 0,
  StripEscape: 1 << 1,
  AlignRight: 1 << 2,
  DiscardEmptyColumns: 1 << 3,
  TabIndent: 1 << 4,
  Debug: 1 << 5,
} as const;

/** Go's `tabwriter.Escape`: text between two of these is one opaque cell fragment. */
export const TABWRITER_ESCAPE = '\xff';

export interface TabWriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: string;
  flags?: number;
}

interface Cell {
  text: string;
  /** Width in code points (Go counts runes, not bytes or display columns). */
  width: number;
  /** True when the cell was ended by `\t` rather than `\v`. */
  htab: boolean;
}

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Accumulates written text and renders it aligned on `flush()`, like Go's `*tabwriter.Writer`. */
export class TabWriter {
  private readonly minwidth: number;
  private readonly tabwidth: number;
  private readonly padding: number;
  private readonly padchar: string;
  private readonly flags: number;

  private out = '';
  private lines: Cell[][] = [[]];
  private cellText = '';
  private cellWidth = 0;
  private widths: number[] = [];
  /** Inside an escaped section: the escaped text counts as width but tabs do not end cells. */
  private escaped = false;

  constructor(opts: TabWriterOptions) {
    this.minwidth = opts.minwidth;
    this.tabwidth = opts.tabwidth;
    this.padding = opts.padding;
    this.padchar = opts.padchar.length > 0 ? opts.padchar : ' ';
    let flags = opts.flags ?? 0;
    // Go: tab padding enforces left alignment.
    if (this.padchar === '\t') flags &= ~TABWRITER_FLAGS.AlignRight;
    this.flags = flags;
  }

  /** Buffers text; complete lines without tabs trigger a flush of everything so far (as Go does). */
  write(text: string): this {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (this.escaped) {
        if (ch === TABWRITER_ESCAPE) {
          this.appendEscaped(text.slice(start, i), true);
          start = i + 1;
          this.escaped = false;
        }
        continue;
      }
      if (ch === TABWRITER_ESCAPE) {
        this.appendText(text.slice(start, i));
        start = i + 1;
        this.escaped = true;
        // Go keeps the opening escape char in the cell unless StripEscape is set.
        if ((this.flags & TABWRITER_FLAGS.StripEscape) === 0) this.cellText += TABWRITER_ESCAPE;
        continue;
      }
      if (ch === '\t' || ch === '\v' || ch === '\n' || ch === '\f') {
        this.appendText(text.slice(start, i));
        start = i + 1;
        const ncells = this.terminateCell(ch === '\t');
        if (ch === '\n' || ch === '\f') {
          this.lines.push([]);
          if (ch === '\f' || ncells === 1) {
            this.flushLines();
            if (ch === '\f' && (this.flags & TABWRITER_FLAGS.Debug) !== 0) this.out += '---\n';
          }
        }
      }
    }
    if (this.escaped) this.appendEscaped(text.slice(start), false);
    else this.appendText(text.slice(start));
    return this;
  }

  /** Formats whatever is buffered and returns all output produced so far (then clears it). */
  flush(): string {
    if (this.escaped) {
      // Go ends an open escape at flush time.
      if ((this.flags & TABWRITER_FLAGS.StripEscape) === 0) this.cellText += TABWRITER_ESCAPE;
      this.escaped = false;
    }
    this.flushLines();
    const out = this.out;
    this.out = '';
    return out;
  }

  private appendText(s: string): void {
    if (s.length === 0) return;
    this.cellText += s;
    this.cellWidth += runeCount(s);
  }

  private appendEscaped(s: string, closed: boolean): void {
    this.cellText += s;
    this.cellWidth += runeCount(s);
    // The escape chars themselves are kept (unless stripped) but never counted in the width.
    if (closed && (this.flags & TABWRITER_FLAGS.StripEscape) === 0) this.cellText += TABWRITER_ESCAPE;
  }

  private terminateCell(htab: boolean): number {
    const line = this.lines[this.lines.length - 1] ?? [];
    line.push({ text: this.cellText, width: this.cellWidth, htab });
    this.cellText = '';
    this.cellWidth = 0;
    return line.length;
  }

  private flushLines(): void {
    if (this.cellText.length > 0) this.terminateCell(false);
    this.format(0, this.lines.length);
    this.lines = [[]];
    this.widths = [];
  }

  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    for (let row = line0; row < line1; row++) {
      const line = this.lines[row] ?? [];
      if (column >= line.length - 1) continue;
      // This line has a cell in `column`: print the lines above it, then size the block.
      this.writeLines(line0, row);
      line0 = row;
      let width = this.minwidth;
      let discardable = true;
      for (; row < line1; row++) {
        const l = this.lines[row] ?? [];
        if (column >= l.length - 1) break;
        const c = l[column];
        if (!c) break;
        width = Math.max(width, c.width + this.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && (this.flags & TABWRITER_FLAGS.DiscardEmptyColumns) !== 0) width = 0;
      this.widths.push(width);
      this.format(line0, row);
      this.widths.pop();
      line0 = row;
    }
    this.writeLines(line0, line1);
  }

  private writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i] ?? [];
      let useTabs = (this.flags & TABWRITER_FLAGS.TabIndent) !== 0;
      line.forEach((c, j) => {
        if (j > 0 && (this.flags & TABWRITER_FLAGS.Debug) !== 0) this.out += '|';
        const cellw = this.widths[j];
        if (c.text.length === 0) {
          if (cellw !== undefined) this.writePadding(c.width, cellw, useTabs);
          return;
        }
        useTabs = false;
        if ((this.flags & TABWRITER_FLAGS.AlignRight) === 0) {
          this.out += c.text;
          if (cellw !== undefined) this.writePadding(c.width, cellw, false);
        } else {
          if (cellw !== undefined) this.writePadding(c.width, cellw, false);
          this.out += c.text;
        }
      });
      // The last buffered line has no newline of its own (it is the line being filled).
      if (i + 1 !== this.lines.length) this.out += '\n';
    }
  }

  private writePadding(textw: number, cellw: number, useTabs: boolean): void {
    if (this.padchar === '\t' || useTabs) {
      if (this.tabwidth === 0) return;
      const rounded = Math.ceil(cellw / this.tabwidth) * this.tabwidth;
      const n = rounded - textw;
      this.out += '\t'.repeat(Math.ceil(n / this.tabwidth));
      return;
    }
    this.out += this.padchar.repeat(Math.max(0, cellw - textw));
  }
}

/** Renders `text` through a fresh tabwriter with the given Init arguments. */
export function tabulate(text: string, opts: TabWriterOptions): string {
  return new TabWriter(opts).write(text).flush();
}

/** istioctl's most common table setup: `Init(out, 0, 8, 5, ' ', 0)`. */
export const ISTIOCTL_TABLE: TabWriterOptions = { minwidth: 0, tabwidth: 8, padding: 5, padchar: ' ' };
