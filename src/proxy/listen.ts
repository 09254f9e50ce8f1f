/**
 * Where the proxy (and, over TCP, the exporter) listens: `127.0.0.1:PORT`, `[::1]:PORT`, `HOST:PORT`,
 * `:PORT` (every interface), or `unix:/path` (mode 0660 unless given as `unix:/path:0600`). The client leg
 * is plaintext, so a TCP listener on anything but loopback would put passwords and data on the network in
 * clear: refused unless explicitly allowed.
 */

import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { address, isLoopback } from '../tls/dsn.js';

/** The longest unix socket path: sun_path's 108 bytes less the terminating NUL (unix(7)). */
const UNIX_PATH_MAX = 107;

/** Group-readable: a sidecar's application container usually shares a group, not the user. */
export const DEFAULT_SOCKET_MODE = 0o660;

export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string; readonly mode: number };

export function parseListen(text: string, option = '--listen'): ListenAddress {
  const bad = (why: string) =>
    new DbtlsError('LISTEN_INVALID', `could not use ${option} ${text}: ${why}`, {
      hint: 'use 127.0.0.1:PORT, [::1]:PORT or unix:/path/to/socket[:MODE]',
    });
  if (text.startsWith('unix:')) {
    const m = /^unix:(\/.+?)(?::(\d+))?$/.exec(text);
    if (!m?.[1]) throw bad('a unix socket needs an absolute path');
    const [, socketPath, modeText] = m as unknown as [string, string, string | undefined];
    // Permission bits only: no setuid, setgid or sticky bit on a socket.
    if (modeText !== undefined && !/^0?[0-7]{3}$/.test(modeText))
      throw bad(`the mode ${modeText} is not octal permission bits (such as 0660 or 0600)`);
    // sun_path holds 108 bytes with the terminating NUL (unix(7)); a longer path is cut by the kernel.
    const bytes = Buffer.byteLength(socketPath);
    if (bytes > UNIX_PATH_MAX)
      throw bad(`a unix socket path is at most ${UNIX_PATH_MAX} bytes, this one is ${bytes}`);
    if (!fs.statSync(path.dirname(socketPath), { throwIfNoEntry: false })?.isDirectory())
      throw bad(`the directory ${path.dirname(socketPath)} does not exist`);
    return {
      kind: 'unix',
      path: socketPath,
      mode: modeText ? Number.parseInt(modeText, 8) : DEFAULT_SOCKET_MODE,
    };
  }
  // `:PORT` is every interface (the exporter's, and the loopback check below still holds for the proxy).
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535) throw bad('expected HOST:PORT');
  return { kind: 'tcp', host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/** Refuses a plaintext TCP listener off loopback unless `allowRemote`. */
export function checkListen(addr: ListenAddress, allowRemote: boolean): void {
  if (addr.kind === 'tcp' && !isLoopback(addr.host) && !allowRemote) {
    throw new DbtlsError(
      'LISTEN_NOT_LOOPBACK',
      `could not listen on ${address(addr.host, addr.port)}: the client leg is plaintext, so anyone on that network could read passwords and data`,
      {
        hint: 'listen on 127.0.0.1, [::1] or a unix: socket (the proxy belongs next to the application); pass --allow-remote-plaintext only on a network you trust',
      },
    );
  }
}

export function formatListen(addr: ListenAddress): string {
  if (addr.kind === 'unix') return `unix:${addr.path}`;
  return address(addr.host, addr.port);
}

/** Starts `server` on `addr`; resolves with the address actually bound (port 0 picks a free port). */
export function listenOn(server: net.Server, addr: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new DbtlsError(
          'LISTEN_FAILED',
          `could not listen on ${formatListen(addr)}: ${err.code ?? err.message}`,
          {
            hint:
              err.code === 'EADDRINUSE'
                ? 'another process uses that address: pick another port or socket path'
                : 'check the address and the permissions of its directory',
            cause: err,
          },
        ),
      );
    server.once('error', onError);
    const bound = () => {
      server.off('error', onError);
      if (addr.kind === 'unix') {
        fs.chmodSync(addr.path, addr.mode);
        resolve(addr);
      } else {
        const a = server.address() as net.AddressInfo;
        resolve({ kind: 'tcp', host: addr.host, port: a.port });
      }
    };
    if (addr.kind === 'unix') {
      removeStaleSocket(addr.path);
      server.listen(addr.path, bound);
    } else server.listen({ host: addr.host, port: addr.port }, bound);
  });
}

/** A socket file left by a killed proxy would block listen (EADDRINUSE). */
function removeStaleSocket(file: string): void {
  try {
    if (fs.lstatSync(file).isSocket()) fs.unlinkSync(file);
  } catch {
    // absent: nothing to do
  }
}
