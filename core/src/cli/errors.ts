/** What ends a command: a message for the person at the terminal and the exit code (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** 0: done (a run succeeded, nothing to fix); 1: it failed or needs fixing; 2: the command line was wrong. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;
