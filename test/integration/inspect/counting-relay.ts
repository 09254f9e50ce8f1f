/**
 * TCP relays that count: one per upstream server, each a distinct target for the inspector, all sharing
 * one tally of how many targets have a connection open at the same moment. That is the fleet bound as the
 * network sees it (Max_used_connections sees one server only). Half-closes are relayed as they come, so the
 * inspector's "close first, then wait for the server's close" still holds through a relay. A connection
 * stops counting when either side ends it: the inspector's FIN (it is done with the connection, whether it
 * then waits for the server or not) or the server's, before the relay passes it on.
 *
 * The tally is taken on the next turn of the event loop after an accept: a FIN the inspector sent before
 * dialling its next target can reach the relay in the same batch of I/O events as that new connection, in
 * either order, and must not count as an overlap.
 */
import * as net from 'node:net';

export interface CountingRelays {
  /** One listening port on 127.0.0.1 per upstream, in the same order. */
  readonly ports: readonly number[];
  /** The most relays that had a connection open at once. */
  maxTargets(): number;
  /** The most connections open at once, over every relay. */
  maxConnections(): number;
  /** Connections each relay accepted. */
  accepted(): number[];
  close(): Promise<void>;
}

export async function startCountingRelays(
  upstreams: readonly { host: string; port: number }[],
): Promise<CountingRelays> {
  const open = upstreams.map(() => 0);
  const accepted = upstreams.map(() => 0);
  let maxTargets = 0;
  let maxConnections = 0;
  const sockets = new Set<net.Socket>();
  const servers = upstreams.map((upstream, i) =>
    net.createServer({ allowHalfOpen: true }, (client) => {
      accepted[i]!++;
      open[i]!++;
      let counted = true;
      setImmediate(() => {
        if (!counted) return;
        maxTargets = Math.max(maxTargets, open.filter((n) => n > 0).length);
        maxConnections = Math.max(
          maxConnections,
          open.reduce((a, b) => a + b, 0),
        );
      });
      const done = () => {
        if (counted) open[i]!--;
        counted = false;
      };
      const server = net.connect({ host: upstream.host, port: upstream.port, allowHalfOpen: true });
      for (const s of [client, server]) {
        sockets.add(s);
        s.on('error', () => {
          client.destroy();
          server.destroy();
        });
        s.once('close', () => {
          done();
          sockets.delete(s);
        });
      }
      // Registered before pipe(), so they run before pipe passes the end on.
      server.once('end', done);
      client.once('end', done);
      client.pipe(server);
      server.pipe(client);
    }),
  );
  await Promise.all(
    servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))),
  );
  return {
    ports: servers.map((s) => (s.address() as net.AddressInfo).port),
    maxTargets: () => maxTargets,
    maxConnections: () => maxConnections,
    accepted: () => [...accepted],
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
