/**
 * A sandbox mariadbd must not outlive the process that started it, even one killed by SIGKILL (issue 10,
 * item 17: `dbtls demo` killed that way left its server running).
 */
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The watchdog: a shell that blocks reading a pipe whose only writer is this process. When this process
 * dies, whatever the signal (SIGKILL runs no handler), the kernel closes the pipe, `read` returns, and the
 * shell kills mariadbd, waits for it to go, and removes the directory (issue 10, item 17). A clean stop
 * kills the watchdog first, so it never signals a pid the system may have reused.
 */
const WATCHDOG =
  'read _; kill -KILL "$1" 2>/dev/null; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; rm -rf -- "$2"';

export function startWatchdog(pid: number, dir: string): ChildProcess {
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'dbtls-sandbox-watchdog', String(pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.unref();
  // Neither the child nor its pipe may keep this process alive: the pipe only has to exist.
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  watchdog.on('error', () => undefined);
  return watchdog;
}
