// CEL syntax checking for Telemetry `accessLogging[].filter.expression`, the way Istio 1.17's webhook does
// it: `cel.NewEnv().Parse(expr)` with cel-go v0.13 (ANTLR grammar CEL.g4, default macros, no optional
// syntax). Only parsing is checked, never types. Errors read like cel-go's `Issues.Err()`:
//   ERROR: <input>:1:5: Syntax error: mismatched input '<EOF>' expecting {...}
//    | a && (
//    | .....^
// Limits of the emulation: after the first parser syntax error ANTLR keeps recovering and may report more
// errors; only lexer errors and the first parser error are reported here.

const MAX_DEPTH = 250;
const MAX_CODE_POINTS = 100_000;
const MAX_SNIPPET_BYTES = 16384;

interface Token {
  /** `'('`-style literal name, a token class (IDENTIFIER, NUM_INT ...) or EOF. */
  kind: string;
  /** Code-point offsets into the expression. */
  start: number;
  end: number;
}

interface CelError {
  /** Code-point offset, or -1 for errors without a location. */
  offset: number;
  message: string;
}

/** Token types in the order of CEL.g4's vocabulary; ANTLR prints expected-token sets in this order. */
const TOKEN_ORDER = [
  "'.?'",
  "'[?'",
  "'=='",
  "'!='",
  "'in'",
  "'<'",
  "'<='",
  "'>='",
  "'>'",
  "'&&'",
  "'||'",
  "'['",
  "']'",
  "'{'",
  "'}'",
  "'('",
  "')'",
  "'.'",
  "','",
  "'-'",
  "'!'",
  "'?'",
  "':'",
  "'+'",
  "'*'",
  "'/'",
  "'%'",
  "'true'",
  "'false'",
  "'null'",
  'NUM_FLOAT',
  'NUM_INT',
  'NUM_UINT',
  'STRING',
  'BYTES',
  'IDENTIFIER',
];

const FIXED_TOKENS = [
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '.?',
  '[?',
  '<',
  '>',
  '[',
  ']',
  '{',
  '}',
  '(',
  ')',
  '.',
  ',',
  '-',
  '!',
  '?',
  ':',
  '+',
  '*',
  '/',
  '%',
];
const KEYWORDS = new Set(['in', 'true', 'false', 'null']);
const RESERVED = new Set([
  'as',
  'break',
  'const',
  'continue',
  'else',
  'false',
  'for',
  'function',
  'if',
  'import',
  'in',
  'let',
  'loop',
  'package',
  'namespace',
  'null',
  'return',
  'true',
  'var',
  'void',
  'while',
]);

const KEYWORD_TOKENS = new Set(["'in'", "'true'", "'false'", "'null'"]);
const NUMBERS = new Set(['NUM_INT', 'NUM_FLOAT']);
const MEMBER_START = new Set([
  "'['",
  "'{'",
  "'('",
  "'.'",
  "'true'",
  "'false'",
  "'null'",
  'NUM_FLOAT',
  'NUM_INT',
  'NUM_UINT',
  'STRING',
  'BYTES',
  'IDENTIFIER',
]);
const EXPR_START = new Set([...MEMBER_START, "'-'", "'!'"]);
const OPERATORS = new Set([
  "'=='",
  "'!='",
  "'in'",
  "'<'",
  "'<='",
  "'>='",
  "'>'",
  "'&&'",
  "'||'",
  "'+'",
  "'-'",
  "'*'",
  "'/'",
  "'%'",
  "'?'",
  "'.'",
  "'['",
  "'.?'",
  "'[?'",
]);

// ---- lexer ----

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isHexDigit = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);
const isIdentStart = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z_]$/.test(c);
const isIdentPart = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** What one lexer alternative managed from a start offset: its longest accepted end and where it died. */
interface Attempt {
  accept: number;
  kind: string;
  reach: number;
}

/** Length of a valid escape sequence at `i` (a backslash), or the offset where it stops being valid. */
function escapeAt(cs: readonly string[], i: number): { end: number } | { dead: number } {
  const c = cs[i + 1];
  if (c === undefined) return { dead: i + 1 };
  if ('abfnrtv"\'\\?`'.includes(c)) return { end: i + 2 };
  const expect = (count: number, from: number, ok: (ch: string | undefined) => boolean) => {
    for (let k = 0; k < count; k++) if (!ok(cs[from + k])) return { dead: from + k };
    return { end: from + count };
  };
  if (c >= '0' && c <= '3') return expect(2, i + 2, (ch) => ch !== undefined && ch >= '0' && ch <= '7');
  if (c === 'x' || c === 'X') return expect(2, i + 2, isHexDigit);
  if (c === 'u') return expect(4, i + 2, isHexDigit);
  if (c === 'U') return expect(8, i + 2, isHexDigit);
  return { dead: i + 1 };
}

/** One quoted string body starting at the opening quote `q` (offset `i`); raw strings skip escapes. */
function scanQuoted(cs: readonly string[], i: number, raw: boolean, kind: string): Attempt[] {
  const q = cs[i];
  const out: Attempt[] = [];
  // Single-line form.
  let j = i + 1;
  let single: Attempt = { accept: -1, kind, reach: cs.length };
  while (j < cs.length) {
    const c = cs[j];
    if (c === q) {
      single = { accept: j + 1, kind, reach: j + 1 };
      break;
    }
    if (c === '\n' || c === '\r') {
      single = { accept: -1, kind, reach: j };
      break;
    }
    if (c === '\\' && !raw) {
      const esc = escapeAt(cs, j);
      if ('dead' in esc) {
        single = { accept: -1, kind, reach: esc.dead };
        break;
      }
      j = esc.end;
      continue;
    }
    j++;
  }
  out.push(single);
  // Triple-quoted form, which ends at the first closing triple quote.
  if (cs[i + 1] === q && cs[i + 2] === q) {
    let k = i + 3;
    let triple: Attempt = { accept: -1, kind, reach: cs.length };
    while (k < cs.length) {
      if (cs[k] === q && cs[k + 1] === q && cs[k + 2] === q) {
        triple = { accept: k + 3, kind, reach: k + 3 };
        break;
      }
      if (cs[k] === '\\' && !raw) {
        const esc = escapeAt(cs, k);
        if ('dead' in esc) {
          triple = { accept: -1, kind, reach: esc.dead };
          break;
        }
        k = esc.end;
        continue;
      }
      k++;
    }
    out.push(triple);
  }
  return out;
}

function stringAttempts(cs: readonly string[], start: number): Attempt[] {
  let i = start;
  let kind = 'STRING';
  if (cs[i] === 'b' || cs[i] === 'B') {
    kind = 'BYTES';
    i++;
  }
  let raw = false;
  if (cs[i] === 'r' || cs[i] === 'R') {
    raw = true;
    i++;
  }
  if (cs[i] !== '"' && cs[i] !== "'") return [{ accept: -1, kind, reach: i }];
  return scanQuoted(cs, i, raw, kind);
}

function digitsEnd(cs: readonly string[], i: number): number {
  while (isDigit(cs[i])) i++;
  return i;
}

/** NUM_FLOAT's optional or required exponent at `i`: the end after it, or where it died. */
function exponentEnd(cs: readonly string[], i: number): { end: number } | { dead: number } {
  if (cs[i] !== 'e' && cs[i] !== 'E') return { dead: i };
  let j = i + 1;
  if (cs[j] === '+' || cs[j] === '-') j++;
  const end = digitsEnd(cs, j);
  return end > j ? { end } : { dead: end };
}

function numberAttempts(cs: readonly string[], start: number): Attempt[] {
  const out: Attempt[] = [];
  const intEnd = digitsEnd(cs, start);
  if (intEnd > start) {
    out.push({ accept: intEnd, kind: 'NUM_INT', reach: intEnd });
    if (cs[intEnd] === 'u' || cs[intEnd] === 'U')
      out.push({ accept: intEnd + 1, kind: 'NUM_UINT', reach: intEnd + 1 });
    if (cs[intEnd] === '.') {
      const fracEnd = digitsEnd(cs, intEnd + 1);
      if (fracEnd > intEnd + 1) {
        const exp = exponentEnd(cs, fracEnd);
        out.push(
          'end' in exp
            ? { accept: exp.end, kind: 'NUM_FLOAT', reach: exp.end }
            : { accept: fracEnd, kind: 'NUM_FLOAT', reach: exp.dead },
        );
      } else out.push({ accept: -1, kind: 'NUM_FLOAT', reach: fracEnd });
    }
    const exp = exponentEnd(cs, intEnd);
    out.push(
      'end' in exp
        ? { accept: exp.end, kind: 'NUM_FLOAT', reach: exp.end }
        : { accept: -1, kind: '', reach: exp.dead },
    );
  }
  if (cs[start] === '0' && cs[start + 1] === 'x') {
    let j = start + 2;
    while (isHexDigit(cs[j])) j++;
    if (j > start + 2) {
      out.push({ accept: j, kind: 'NUM_INT', reach: j });
      if (cs[j] === 'u' || cs[j] === 'U') out.push({ accept: j + 1, kind: 'NUM_UINT', reach: j + 1 });
    } else out.push({ accept: -1, kind: '', reach: j });
  }
  if (cs[start] === '.') {
    const fracEnd = digitsEnd(cs, start + 1);
    if (fracEnd > start + 1) {
      const exp = exponentEnd(cs, fracEnd);
      out.push(
        'end' in exp
          ? { accept: exp.end, kind: 'NUM_FLOAT', reach: exp.end }
          : { accept: fracEnd, kind: 'NUM_FLOAT', reach: exp.dead },
      );
    }
  }
  return out;
}

function fixedAttempts(cs: readonly string[], start: number): Attempt[] {
  const out: Attempt[] = [];
  for (const text of FIXED_TOKENS) {
    let k = 0;
    while (k < text.length && cs[start + k] === text[k]) k++;
    out.push(
      k === text.length
        ? { accept: start + k, kind: `'${text}'`, reach: start + k }
        : { accept: -1, kind: '', reach: start + k },
    );
  }
  return out;
}

/** Tokenises like the ANTLR lexer: longest match, and on failure a `token recognition error`. */
function lex(cs: readonly string[], errors: CelError[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < cs.length) {
    const c = cs[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f') {
      i++;
      continue;
    }
    if (c === '/' && cs[i + 1] === '/') {
      while (i < cs.length && cs[i] !== '\n') i++;
      continue;
    }
    const attempts: Attempt[] = [...fixedAttempts(cs, i), ...numberAttempts(cs, i), ...stringAttempts(cs, i)];
    if (isIdentStart(c)) {
      let j = i + 1;
      while (isIdentPart(cs[j])) j++;
      const word = cs.slice(i, j).join('');
      attempts.push({ accept: j, kind: KEYWORDS.has(word) ? `'${word}'` : 'IDENTIFIER', reach: j });
    }
    // The longest accepted alternative wins; on a tie the rule listed first in the grammar does, which
    // puts keywords and fixed tokens ahead of identifiers and numbers.
    let best: Attempt | undefined;
    for (const a of attempts) {
      if (
        a.accept > i &&
        (!best || a.accept > best.accept || (a.accept === best.accept && a.kind.startsWith("'")))
      )
        best = a;
    }
    if (best) {
      tokens.push({ kind: best.kind, start: i, end: best.accept });
      i = best.accept;
      continue;
    }
    const reach = Math.max(i, ...attempts.map((a) => a.reach));
    const stop = Math.min(reach + 1, cs.length);
    errors.push({
      offset: i,
      message: `Syntax error: token recognition error at: '${cs.slice(i, stop).join('')}'`,
    });
    i = stop;
  }
  tokens.push({ kind: 'EOF', start: cs.length, end: cs.length });
  return tokens;
}

// ---- parser ----

class SyntaxStop extends Error {}

interface Node {
  kind: 'ident' | 'select' | 'other';
  start: Token;
}

function formatSet(kinds: Iterable<string>): string {
  const sorted = [...new Set(kinds)].sort((a, b) => TOKEN_ORDER.indexOf(a) - TOKEN_ORDER.indexOf(b));
  const names = sorted.map((k) => (k === 'EOF' ? '<EOF>' : k));
  return names.length === 1 ? (names[0] ?? '') : `{${names.join(', ')}}`;
}

function escapeWhitespace(s: string): string {
  return s.replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

class Parser {
  private pos = 0;
  private readonly depth = new Map<string, number>();

  constructor(
    private readonly cs: readonly string[],
    private readonly tokens: readonly Token[],
    readonly errors: CelError[],
  ) {}

  private la(k = 1): Token {
    return this.tokens[Math.min(this.pos + k - 1, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.la();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  private text(from: Token, to: Token): string {
    return this.cs.slice(from.start, to.kind === 'EOF' ? to.start : to.end).join('');
  }

  private display(t: Token): string {
    return t.kind === 'EOF' ? "'<EOF>'" : `'${escapeWhitespace(this.text(t, t))}'`;
  }

  private syntax(at: Token, message: string): never {
    this.errors.push({ offset: at.start, message: `Syntax error: ${message}` });
    throw new SyntaxStop();
  }

  private semantic(at: Token, message: string): void {
    this.errors.push({ offset: at.start, message });
  }

  private noViable(start: Token, offending: Token): never {
    const input = start.kind === 'EOF' ? '<EOF>' : escapeWhitespace(this.text(start, offending));
    return this.syntax(offending, `no viable alternative at input '${input}'`);
  }

  /** ANTLR's sync before a decision: the current token must be one of `expected`. */
  private sync(expected: ReadonlySet<string>): void {
    const t = this.la();
    if (expected.has(t.kind)) return;
    const how = expected.has(this.la(2).kind) && t.kind !== 'EOF' ? 'extraneous' : 'mismatched';
    this.syntax(t, `${how} input ${this.display(t)} expecting ${formatSet(expected)}`);
  }

  /** ANTLR's match with single-token deletion and insertion recovery reporting. */
  private expect(kind: string, follow: ReadonlySet<string>): Token {
    const t = this.la();
    if (t.kind === kind) return this.next();
    if (t.kind !== 'EOF' && this.la(2).kind === kind) {
      this.syntax(t, `extraneous input ${this.display(t)} expecting ${formatSet([kind])}`);
    }
    if (follow.has(t.kind)) this.syntax(t, `missing ${formatSet([kind])} at ${this.display(t)}`);
    return this.syntax(t, `mismatched input ${this.display(t)} expecting ${formatSet([kind])}`);
  }

  private enter(rule: string, by = 1): void {
    const d = (this.depth.get(rule) ?? 0) + by;
    this.depth.set(rule, d);
    if (d > MAX_DEPTH) {
      this.errors.push({ offset: -1, message: `expression recursion limit exceeded: ${MAX_DEPTH}` });
      throw new SyntaxStop();
    }
  }

  private leave(rule: string, by = 1): void {
    this.depth.set(rule, (this.depth.get(rule) ?? 0) - by);
  }

  private afterOperand(closers: ReadonlySet<string>): Set<string> {
    return new Set([...OPERATORS, ...closers]);
  }

  parseStart(): void {
    this.expr(new Set(['EOF']));
    if (this.la().kind !== 'EOF') this.expect('EOF', new Set());
  }

  private expr(closers: ReadonlySet<string>): Node {
    this.enter('expr');
    const cond = this.binary(0, closers);
    let result = cond;
    if (this.la().kind === "'?'") {
      this.next();
      this.binary(0, new Set(["':'"]));
      this.expect("':'", EXPR_START);
      this.expr(closers);
      result = { kind: 'other', start: cond.start };
    }
    this.leave('expr');
    return result;
  }

  /** `||` and `&&`: plain loops in the grammar (levels 0 and 1), then the left-recursive relation rule. */
  private binary(level: number, closers: ReadonlySet<string>): Node {
    if (level >= 2) return this.relation(0, closers);
    const ops = level === 0 ? OR_OPS : AND_OPS;
    const first = this.binary(level + 1, closers);
    let count = 0;
    while (ops.has(this.la().kind)) {
      this.next();
      count++;
      this.binary(level + 1, closers);
    }
    return count > 0 ? { kind: 'other', start: first.start } : first;
  }

  /**
   * relation and calc are left-recursive rules, which ANTLR parses by precedence climbing. cel-go's depth
   * listener counts the rule's entry, one level per operator folded in, and one for each right operand.
   */
  private relation(precedence: number, closers: ReadonlySet<string>): Node {
    this.enter('relation');
    let depth = 1;
    const first = this.calc(0, closers);
    let count = 0;
    while (precedence <= 1 && RELATION_OPS.has(this.la().kind)) {
      this.next();
      this.enter('relation');
      depth++;
      count++;
      this.relation(2, closers);
    }
    this.leave('relation', depth);
    return count > 0 ? { kind: 'other', start: first.start } : first;
  }

  private calc(precedence: number, closers: ReadonlySet<string>): Node {
    this.enter('calc');
    let depth = 1;
    const first = this.unary(closers);
    let count = 0;
    for (;;) {
      const kind = this.la().kind;
      let operand: number;
      if (precedence <= 2 && MUL_OPS.has(kind)) operand = 3;
      else if (precedence <= 1 && ADD_OPS.has(kind)) operand = 2;
      else break;
      this.next();
      this.enter('calc');
      depth++;
      count++;
      this.calc(operand, closers);
    }
    this.leave('calc', depth);
    return count > 0 ? { kind: 'other', start: first.start } : first;
  }

  private unary(closers: ReadonlySet<string>): Node {
    this.sync(EXPR_START);
    const t = this.la();
    if (t.kind === "'!'") {
      while (this.la().kind === "'!'") this.next();
      this.checkMemberStart();
      this.member(closers);
      return { kind: 'other', start: t };
    }
    if (t.kind === "'-'") {
      const after = this.la(2);
      if (NUMBERS.has(after.kind)) return this.member(closers);
      if (!MEMBER_START.has(after.kind) && after.kind !== "'-'") this.noViable(t, after);
      this.next();
      for (;;) {
        const u = this.la();
        if (u.kind === "'-'") {
          const v = this.la(2);
          if (NUMBERS.has(v.kind)) break;
          if (!MEMBER_START.has(v.kind) && v.kind !== "'-'") this.noViable(u, v);
          this.next();
          continue;
        }
        if (!MEMBER_START.has(u.kind)) this.noViable(u, u);
        break;
      }
      this.member(closers);
      return { kind: 'other', start: t };
    }
    return this.member(closers);
  }

  private checkMemberStart(): void {
    const u = this.la();
    if (u.kind === "'-'") {
      if (!NUMBERS.has(this.la(2).kind)) this.noViable(u, this.la(2));
    } else if (!MEMBER_START.has(u.kind)) this.noViable(u, u);
  }

  private member(closers: ReadonlySet<string>): Node {
    // member is left-recursive too: its entry and each suffix count one level.
    this.enter('member');
    let suffixes = 1;
    let node = this.primary(closers);
    for (;;) {
      const op = this.la();
      if (op.kind === "'.'" || op.kind === "'.?'") {
        this.next();
        this.enter('member');
        suffixes++;
        if (op.kind === "'.?'") this.semantic(op, "unsupported syntax '.?'");
        const id = this.la();
        if (id.kind !== 'IDENTIFIER') {
          // cel-go reports keywords after a dot as a mismatch and other tokens as no viable alternative.
          if (op.kind === "'.?'" || KEYWORD_TOKENS.has(id.kind)) this.expect('IDENTIFIER', new Set());
          this.noViable(op, id);
        }
        this.next();
        if (op.kind === "'.'" && this.la().kind === "'('") {
          const open = this.next();
          const args = this.args("')'", closers);
          this.receiverMacro(this.text(id, id), args, open);
          node = { kind: 'other', start: node.start };
        } else {
          node = { kind: op.kind === "'.'" ? 'select' : 'other', start: node.start };
        }
        continue;
      }
      if (op.kind === "'['" || op.kind === "'[?'") {
        this.next();
        this.enter('member');
        suffixes++;
        if (op.kind === "'[?'") this.semantic(op, "unsupported syntax '[?'");
        this.expr(new Set(["']'"]));
        this.expect("']'", this.afterOperand(closers));
        node = { kind: 'other', start: node.start };
        continue;
      }
      break;
    }
    this.leave('member', suffixes);
    return node;
  }

  /** Call arguments after `(`; returns the argument nodes. */
  private args(close: string, closers: ReadonlySet<string>): Node[] {
    const args: Node[] = [];
    this.sync(new Set([...EXPR_START, close]));
    if (this.la().kind !== close) {
      const inner = new Set(["','", close]);
      args.push(this.expr(inner));
      while (this.la().kind === "','") {
        this.next();
        args.push(this.expr(inner));
      }
    }
    this.expect(close, this.afterOperand(closers));
    return args;
  }

  private primary(closers: ReadonlySet<string>): Node {
    const t = this.la();
    switch (t.kind) {
      case "'.'":
        if (this.la(2).kind !== 'IDENTIFIER') this.noViable(t, this.la(2));
        return this.identOrMessage(closers);
      case 'IDENTIFIER':
        return this.identOrMessage(closers);
      case "'('": {
        this.next();
        this.expr(new Set(["')'"]));
        this.expect("')'", this.afterOperand(closers));
        return { kind: 'other', start: t };
      }
      case "'['":
        this.next();
        this.sequence("']'", EXPR_START, closers, () => this.expr(new Set(["','", "']'"])));
        return { kind: 'other', start: t };
      case "'{'":
        this.next();
        this.sequence("'}'", new Set([...EXPR_START, "'?'"]), closers, () => {
          const q = this.la();
          if (q.kind === "'?'") {
            this.next();
            this.semantic(q, "unsupported syntax '?'");
          }
          this.expr(new Set(["':'"]));
          this.expect("':'", EXPR_START);
          this.expr(new Set(["','", "'}'"]));
        });
        return { kind: 'other', start: t };
      default:
        return this.literal(t);
    }
  }

  /** List, map and message bodies: `first? ','? close` with `,`-separated entries. */
  private sequence(
    close: string,
    first: ReadonlySet<string>,
    closers: ReadonlySet<string>,
    entry: () => void,
  ): void {
    this.sync(new Set([...first, "','", close]));
    if (first.has(this.la().kind)) {
      entry();
      while (this.la().kind === "','" && first.has(this.la(2).kind)) {
        this.next();
        entry();
      }
    }
    this.sync(new Set(["','", close]));
    if (this.la().kind === "','") this.next();
    this.expect(close, this.afterOperand(closers));
  }

  private identOrMessage(closers: ReadonlySet<string>): Node {
    const start = this.la();
    // CreateMessage is `.? IDENT ('.' IDENT)* '{'`; anything else is an identifier or a global call.
    let k = start.kind === "'.'" ? 2 : 1;
    while (this.la(k + 1).kind === "'.'" && this.la(k + 2).kind === 'IDENTIFIER') k += 2;
    if (this.la(k + 1).kind === "'{'") {
      for (let n = 0; n < k; n++) this.next();
      this.next();
      const fieldStart = new Set(["'?'", 'IDENTIFIER']);
      this.sequence("'}'", fieldStart, closers, () => {
        const q = this.la();
        if (q.kind === "'?'") {
          this.next();
          this.semantic(q, "unsupported syntax '?'");
        }
        this.expect('IDENTIFIER', new Set(["':'"]));
        this.expect("':'", EXPR_START);
        this.expr(new Set(["','", "'}'"]));
      });
      return { kind: 'other', start };
    }
    if (start.kind === "'.'") this.next();
    const id = this.next();
    const name = this.text(id, id);
    if (RESERVED.has(name)) this.semantic(start, `reserved identifier: ${name}`);
    if (this.la().kind === "'('") {
      const open = this.next();
      const args = this.args("')'", closers);
      if (start.kind !== "'.'" && name === 'has' && args.length === 1 && args[0]?.kind !== 'select') {
        this.semantic(open, 'invalid argument to has() macro');
      }
      return { kind: 'other', start };
    }
    return { kind: 'ident', start };
  }

  /** The comprehension macros need a plain identifier as their first argument. */
  private receiverMacro(name: string, args: readonly Node[], open: Token): void {
    const first = args[0];
    if (!first || first.kind === 'ident') return;
    if (['all', 'exists', 'exists_one'].includes(name) && args.length === 2) {
      this.semantic(first.start, 'argument must be a simple name');
    } else if (
      (name === 'map' && (args.length === 2 || args.length === 3)) ||
      (name === 'filter' && args.length === 2)
    ) {
      this.semantic(open, 'argument is not an identifier');
    }
  }

  private literal(t: Token): Node {
    let sign: Token | undefined;
    let tok = t;
    if (t.kind === "'-'") {
      sign = this.next();
      tok = this.la();
    }
    const text = this.text(tok, tok);
    switch (tok.kind) {
      case 'NUM_INT': {
        const magnitude = BigInt(text);
        const value = sign ? -magnitude : magnitude;
        if (value > 9223372036854775807n || value < -9223372036854775808n)
          this.semantic(t, 'invalid int literal');
        break;
      }
      case 'NUM_UINT':
        if (BigInt(text.slice(0, -1)) > 18446744073709551615n) this.semantic(t, 'invalid uint literal');
        break;
      case 'NUM_FLOAT':
        if (!Number.isFinite(Number(text))) this.semantic(t, 'invalid double literal');
        break;
      case 'STRING':
      case 'BYTES':
      case "'true'":
      case "'false'":
      case "'null'":
        break;
      default:
        this.noViable(tok, tok);
    }
    this.next();
    return { kind: 'other', start: t };
  }
}

const OR_OPS = new Set(["'||'"]);
const AND_OPS = new Set(["'&&'"]);
const RELATION_OPS = new Set(["'<'", "'<='", "'>='", "'>'", "'=='", "'!='", "'in'"]);
const ADD_OPS = new Set(["'+'", "'-'"]);
const MUL_OPS = new Set(["'*'", "'/'", "'%'"]);

// ---- error display (cel-go common.Errors.ToDisplayString) ----

function display(cs: readonly string[], err: CelError): string {
  if (err.offset < 0) return `ERROR: <input>:-1:0: ${err.message}`;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < err.offset && i < cs.length; i++) {
    if (cs[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  const col = err.offset - lineStart;
  let out = `ERROR: <input>:${line}:${col + 1}: ${err.message}`;
  let lineEnd = lineStart;
  while (lineEnd < cs.length && cs[lineEnd] !== '\n') lineEnd++;
  const snippet = cs.slice(lineStart, lineEnd).map((c) => (c === '\t' ? ' ' : c));
  if (Buffer.byteLength(snippet.join(''), 'utf8') <= MAX_SNIPPET_BYTES) {
    let indicator = '';
    for (let i = 0; i < col && i < snippet.length; i++)
      indicator += (snippet[i] ?? '') > '\u007f' ? '\uff0e' : '.';
    indicator += (snippet[col] ?? '') > '\u007f' ? '\uff3e' : '^';
    out += `\n | ${snippet.join('')}\n | ${indicator}`;
  }
  return out;
}

/** Parses a CEL expression as cel-go v0.13's `Env.Parse` does; returns `Issues.Err()` text or undefined. */
export function celParseError(expression: string): string | undefined {
  const cs = Array.from(expression);
  const errors: CelError[] = [];
  if (cs.length > MAX_CODE_POINTS) {
    errors.push({
      offset: -1,
      message: `expression code point size exceeds limit: size: ${cs.length}, limit ${MAX_CODE_POINTS}`,
    });
  } else {
    const tokens = lex(cs, errors);
    const parser = new Parser(cs, tokens, errors);
    try {
      parser.parseStart();
    } catch (err) {
      if (!(err instanceof SyntaxStop)) throw err;
    }
  }
  if (errors.length === 0) return undefined;
  const sorted = errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.offset - b.e.offset || a.i - b.i)
    .map(({ e }) => display(cs, e));
  return sorted.join('\n');
}
