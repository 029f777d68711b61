export type Level = 'Info' | 'Warning' | 'Error';

export const LEVELS: readonly Level[] = ['Info', 'Warning', 'Error'];

/** Severity rank: a higher number is more severe. */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** Parses a level name case-insensitively, as istioctl's threshold flags do. */
export function parseLevel(text: string): Level | undefined {
  return LEVELS.find((l) => l.toLowerCase() === text.toLowerCase());
}
