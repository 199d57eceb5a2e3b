// Exit statuses (contract, "Command line") and the errors that lead to them.

export const EXIT = {
  /** Done; a followed deployment SUCCEEDED. */
  OK: 0,
  /** A followed deployment ended otherwise (FAILED, CANCELLED, REJECTED, EXPIRED). */
  DEPLOYMENT_NOT_SUCCEEDED: 1,
  /** Unknown command or flag, missing or malformed argument. */
  USAGE: 2,
  /** UNAUTHENTICATED or FORBIDDEN. */
  AUTH: 3,
  /** Any other refusal by the server (NOT_FOUND, BAD_USER_INPUT, CONFLICT, PRECONDITION_FAILED, ...). */
  REFUSED: 4,
  /** The server cannot be reached. */
  UNREACHABLE: 5,
  /** Ctrl-C while following a deployment (the deployment goes on). */
  INTERRUPTED: 130,
} as const;

/** A command line the CLI cannot run: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show (null: the general usage). */
    readonly command: string | null = null,
  ) {
    super(message);
  }
}

/** A GraphQL error from the server: its `extensions.code` and message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }

  get exitCode(): number {
    return this.code === 'UNAUTHENTICATED' || this.code === 'FORBIDDEN' ? EXIT.AUTH : EXIT.REFUSED;
  }
}

/** The server did not answer (connection refused, DNS, time-out, 502/503/504, lost for longer than --timeout). */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the Stageplane server at ${url}: ${reason}`);
  }
}

/** The exit status and the stderr text for anything thrown by a command. */
export function describeFailure(error: unknown): { exitCode: number; message: string } {
  if (error instanceof UsageError) return { exitCode: EXIT.USAGE, message: error.message };
  if (error instanceof ApiError) {
    let message = `${error.code}: ${error.message}`;
    if (
      error.code === 'CONFLICT' &&
      typeof error.extensions.changedBy === 'string' &&
      !error.message.includes(error.extensions.changedBy)
    ) {
      message += ` (changed by ${error.extensions.changedBy})`;
    }
    return { exitCode: error.exitCode, message };
  }
  if (error instanceof UnreachableError) return { exitCode: EXIT.UNREACHABLE, message: error.message };
  const text = error instanceof Error ? error.message : String(error);
  return { exitCode: EXIT.REFUSED, message: `unexpected error: ${text}` };
}
