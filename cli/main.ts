#!/usr/bin/env -S node --import tsx
// `npm run cli -- <command>` and the `stageplane` bin (cli/stageplane.js). See `--help`.
import { run } from './run.ts';

const controller = new AbortController();
let following = false;
let interrupts = 0;

// Ctrl-C while following a deployment stops following (the deployment goes on); a second one,
// or one at any other moment, ends the process at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupts += 1;
    if (following && interrupts === 1) controller.abort();
    else process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

// A closed stdout (`stageplane watch … | head -1`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const code = await run(process.argv.slice(2), {
  signal: controller.signal,
  following: (active) => {
    following = active;
  },
});
process.exitCode = code;
// Whatever still holds the event loop (a closing socket, a keep-alive timer) does not keep us.
setTimeout(() => process.exit(code), 1_000).unref();
