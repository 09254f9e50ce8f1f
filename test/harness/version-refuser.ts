import * as net from 'node:net';

/**
 * An active attacker between a client (dbtls's own, or the proxy) and a server: relays the greeting and the
 * SSLRequest, then answers the first connection's ClientHello with a TLS protocol_version alert (RFC 8446
 * section 6.2) as a TLS 1.2-only server would; later connections pass untouched.
 */
export async function startVersionRefuser(upstream: { host: string; port: number }) {
  const recorded: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let first = true;
  const server = net.createServer((client) => {
    const refuse = first;
    first = false;
    const up = net.connect(upstream.port, upstream.host);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        up.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      recorded.push(Buffer.from(chunk));
      if (refuse && chunk.includes(Buffer.from([0x16, 0x03]))) {
        // Alert record, TLS 1.2 framing: level fatal (2), protocol_version (70).
        client.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]));
        up.destroy();
        return;
      }
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => client.write(chunk));
    up.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    clientBytes: () => Buffer.concat(recorded),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
