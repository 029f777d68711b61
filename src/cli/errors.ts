/** Exit codes as istioctl defines them (BSD sysexits for 64-78, its own from 79). */
export const EXIT = {
  ok: 0,
  unknown: 1,
  usage: 64,
  dataError: 65,
  analyzerFoundIssues: 79,
} as const;

/** An error that ends the command with a specific exit code; its message is printed after `Error: `. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
