import { goQuote } from '../api/index.js';

/**
 * Just enough of Go's fmt verbs (%v %s %q %d) to render Istio's message templates the way istiod does,
 * including Go's rendering of slices (`[a b]`) and quoted strings.
 */
export function goSprintf(template: string, args: readonly unknown[]): string {
  let next = 0;
  return template.replace(/%([vsqd%])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    if (next >= args.length) return `%!${verb}(MISSING)`;
    const arg = args[next++];
    switch (verb) {
      case 'q':
        return Array.isArray(arg)
          ? `[${arg.map((a) => goQuote(goValue(a))).join(' ')}]`
          : goQuote(goValue(arg));
      case 'd':
        return typeof arg === 'number' ? String(Math.trunc(arg)) : `%!d(${goValue(arg)})`;
      default:
        return goValue(arg);
    }
  });
}

export function goValue(arg: unknown): string {
  if (Array.isArray(arg)) return `[${arg.map(goValue).join(' ')}]`;
  if (arg === null || arg === undefined) return '<nil>';
  if (arg instanceof Error) return arg.message;
  if (typeof arg === 'object') {
    const entries = Object.entries(arg as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `map[${entries.map(([k, v]) => `${k}:${goValue(v)}`).join(' ')}]`;
  }
  return String(arg);
}
