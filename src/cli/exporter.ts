/**
 * `dbtls exporter --listen ADDR [--config FILE]`: the Prometheus exporter (src/inspect/exporter.ts), until
 * SIGINT or SIGTERM. `--print rules|scrape-config` prints the files shipped in deploy/prometheus/.
 * The modules file is checked whole before the port is opened: a bad one exits 2 with its line.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEndpoint } from '../client/dial.js';
import { DbtlsError } from '../errors.js';
import { startExporter } from '../inspect/exporter.js';
import { defaultModules, parseExporterConfig } from '../inspect/exporter-config.js';
import { parseListen } from '../proxy/listen.js';
import { readUserFile } from '../util/files.js';
import { noPositionals, parse, str } from './args.js';
import type { Command, OptionTable } from './command.js';

const USAGE =
  'dbtls exporter --listen HOST:PORT [--config FILE]   |   dbtls exporter --print rules|scrape-config [--listen HOST:PORT]';

/** The address the shipped scrape config names; --print scrape-config --listen replaces it. */
const SHIPPED_ADDRESS = '127.0.0.1:9442';
const PRINTABLE = { rules: 'rules.yml', 'scrape-config': 'scrape-config.yml' } as const;

const EXPORTER_OPTIONS: OptionTable = {
  listen: {
    type: 'string',
    value: 'HOST:PORT',
    description: 'serve /probe and /metrics on this address (port 0: any free port, printed at start)',
  },
  config: {
    type: 'string',
    value: 'FILE',
    default: 'one module, default: verify-full against the system CAs, 5s',
    description: 'the modules file (YAML, keyed with inspect option names), checked whole at start',
  },
  print: {
    type: 'string',
    value: 'WHAT',
    choices: ['rules', 'scrape-config'],
    description:
      'print the shipped alerting rules or Prometheus scrape config (with --listen as its address) and exit',
  },
};

export const exporterCommand: Command = {
  name: ['exporter'],
  usage: USAGE,
  summary:
    'a Prometheus exporter: /probe?target=HOST:PORT&module=NAME inspects one server and answers metrics',
  options: EXPORTER_OPTIONS,
  examples: [
    'dbtls exporter --listen 127.0.0.1:9442 --config /etc/dbtls/exporter.yml',
    'dbtls exporter --print scrape-config --listen 10.0.0.5:9442 > prometheus-dbtls.yml',
    'dbtls exporter --print rules > /etc/prometheus/rules/dbtls.yml',
  ],
  details: [
    'Prometheus scrapes /probe?target=HOST:PORT&module=NAME for each database (the multi-target pattern); the metric names are listed in docs/exporter.md.',
  ],
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, EXPORTER_OPTIONS, USAGE, ctx), USAGE);
    const listen = str(p, 'listen');
    const print = str(p, 'print');
    if (print !== undefined) {
      if (!(print in PRINTABLE))
        throw usageError(`could not print ${JSON.stringify(print)}: expected rules or scrape-config`);
      let text = fs.readFileSync(shippedFile(PRINTABLE[print as keyof typeof PRINTABLE]), 'utf8');
      if (listen !== undefined) text = text.split(SHIPPED_ADDRESS).join(formatEndpoint(tcpListen(listen)));
      ctx.render.lines(text.replace(/\n$/, ''));
      return 0;
    }
    if (listen === undefined)
      throw usageError('could not run dbtls exporter: --listen HOST:PORT is required');
    const address = tcpListen(listen);
    const config = str(p, 'config');
    const modules =
      config === undefined
        ? defaultModules()
        : parseExporterConfig(readUserFile(config, 'exporter config').toString('utf8'), config);
    const exporter = await startExporter({ ...address, modules, log: (line) => ctx.render.warn(line) });
    ctx.render.lines(
      `dbtls exporter listening on http://${formatEndpoint(exporter.address)} (modules: ${[...modules.keys()].join(', ')})`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await exporter.close();
    return 0;
  },
};

function usageError(message: string): DbtlsError {
  return new DbtlsError('USAGE', message, { hint: `usage: ${USAGE}` });
}

/** The proxy's --listen grammar (`HOST:PORT`, `:PORT`, `[v6]:PORT`; port 0 picks a free one), TCP only: HTTP. */
function tcpListen(text: string): { host: string; port: number } {
  const addr = parseListen(text);
  if (addr.kind === 'tcp') return { host: addr.host, port: addr.port };
  throw new DbtlsError('LISTEN_INVALID', `could not use --listen ${text}: the exporter serves HTTP on TCP`, {
    hint: 'use HOST:PORT, e.g. 127.0.0.1:9442',
  });
}

/** deploy/prometheus/NAME in the installed package (dist/src/cli/ when built, src/cli/ under tsx). */
function shippedFile(name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'deploy', 'prometheus', name);
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new DbtlsError(
    'PACKAGE_FILE_MISSING',
    `could not find deploy/prometheus/${name} in the dbtls package`,
    {
      hint: 'reinstall dbtls; the file ships with it',
    },
  );
}

export const commands: Command[] = [exporterCommand];
