// How the process ends once main() has its exit code.
//
// After an interruption the user may still be pressing Ctrl-C. Node restores
// the default signal actions while it winds down, so a late SIGINT could kill
// it there and replace the exit code (130) with a signal death. Exiting at
// once closes that window. Only then: on FreeBSD a pipe on stdout is written
// asynchronously and process.exit() could cut the last lines; on Linux pipes
// and files are written synchronously.
export function exitAfterSignal(code: number): void {
  process.exitCode = code;
  if (code >= 128) process.exit(code);
}
