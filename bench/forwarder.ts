/**
 * The fleet bench's loopback fleet (issue 13): one Node process listening on N ports of 127.0.0.1, each
 * forwarding to one of a few real MariaDB servers (port i goes to upstream i mod upstreams). It runs as
 * its own process so that its CPU is not counted as the scanner's.
 *
 *   node dist/bench/forwarder.js COUNT UPSTREAM_PORT...
 *
 * Prints `{"ports":[...]}` on one line once every port listens. Each line `count` on stdin answers
 * `{"accepted":N}`, the connections accepted so far (the bench counts connections per target with it).
 */
import * as net from 'node:net';
import * as readline from 'node:readline';

const [countText, ...upstreamTexts] = process.argv.slice(2);
const count = Number(countText);
const upstreams = upstreamTexts.map(Number);
if (!(count > 0) || upstreams.length === 0 || upstreams.some((p) => !(p > 0))) {
  process.stderr.write('usage: forwarder COUNT UPSTREAM_PORT...\n');
  process.exit(2);
}

let accepted = 0;

function forward(client: net.Socket, upstreamPort: number): void {
  accepted++;
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  // Half-closes pass through (the probe closes first and waits for the server's FIN).
  client.pipe(upstream);
  upstream.pipe(client);
  const done = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', done);
  upstream.on('error', done);
  client.on('close', () => upstream.end());
  upstream.on('close', () => client.end());
}

const ports: number[] = [];
for (let i = 0; i < count; i++) {
  const upstreamPort = upstreams[i % upstreams.length]!;
  const server = net.createServer((c) => forward(c, upstreamPort));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 1024, resolve));
  ports.push((server.address() as net.AddressInfo).port);
}
process.stdout.write(`${JSON.stringify({ ports })}\n`);
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`${JSON.stringify({ accepted })}\n`);
});
process.stdin.on('end', () => process.exit(0));
