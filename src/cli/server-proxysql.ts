/**
 * `dbtls proxysql`: the ProxySQL admin statements for frontend and backend TLS (src/deploy/proxysql.ts).
 * Printed only: dbtls never connects to ProxySQL.
 */
import { proxysqlStatements } from '../deploy/proxysql.js';
import { DbtlsError } from '../errors.js';
import { flag, type OptionSpec, parse, required, str } from './args.js';
import type { Command } from './command.js';
import { COMMON } from './options.js';
import { renderedJson } from './server-admin.js';

const USAGE =
  'dbtls proxysql --frontend-ca F --frontend-cert F --frontend-key F [--backend-ca F --backend-cert F --backend-key F] [--users u1,u2] [--hostgroup N] [--cipher C] [--crl F] [--datadir /var/lib/proxysql] [--rotation] [--json]';

const PROXYSQL_OPTIONS: OptionSpec = {
  'frontend-ca': {
    type: 'string',
    description: "the CA certificate (PEM) of ProxySQL's frontend (clients verify with it)",
  },
  'frontend-cert': { type: 'string', description: "ProxySQL's frontend server certificate (PEM)" },
  'frontend-key': { type: 'string', description: 'the private key (PEM) of --frontend-cert' },
  ca: { type: 'string', description: 'the old name of --frontend-ca', renamedTo: 'frontend-ca' },
  cert: { type: 'string', description: 'the old name of --frontend-cert', renamedTo: 'frontend-cert' },
  key: { type: 'string', description: 'the old name of --frontend-key', renamedTo: 'frontend-key' },
  'backend-ca': { type: 'string', description: 'the CA certificate (PEM) that verifies the backend servers' },
  'backend-cert': { type: 'string', description: "ProxySQL's client certificate (PEM) for the backends" },
  'backend-key': { type: 'string', description: 'the private key (PEM) of --backend-cert' },
  users: { type: 'string', value: 'U1,U2', description: 'frontend users to require TLS from (use_ssl)' },
  hostgroup: { type: 'string', value: 'N', description: 'the backend hostgroup to switch to TLS' },
  cipher: { type: 'string', value: 'C', description: 'the cipher list for the backend connections' },
  crl: { type: 'string', description: 'a CRL file (PEM) for the backend connections' },
  rotation: {
    type: 'boolean',
    description: 'after a rotation: only the file installation and PROXYSQL RELOAD TLS',
  },
  datadir: {
    type: 'string',
    value: 'DIR',
    description: "ProxySQL's datadir, where it reads its frontend files",
    default: '/var/lib/proxysql',
  },
  json: COMMON.json,
};

export const proxysqlCommand: Command = {
  name: ['proxysql'],
  usage: USAGE,
  summary: 'print the ProxySQL admin statements for frontend and backend TLS',
  options: PROXYSQL_OPTIONS,
  examples: [
    'dbtls proxysql --frontend-ca db1/ca.pem --frontend-cert proxysql/cert.pem --frontend-key proxysql/key.pem --users app_user --hostgroup 10',
    'dbtls proxysql --frontend-ca db1/ca.pem --frontend-cert proxysql/cert.pem --frontend-key proxysql/key.pem --rotation --json',
  ],
  async run(argv, ctx) {
    const p = parse(argv, PROXYSQL_OPTIONS, USAGE, ctx);
    if (p.positionals.length) {
      throw new DbtlsError('USAGE', `could not run proxysql: unexpected argument ${p.positionals[0]}`, {
        hint: `usage: ${USAGE}`,
      });
    }
    const hostgroup = str(p, 'hostgroup');
    if (hostgroup !== undefined && !/^\d+$/.test(hostgroup)) {
      throw new DbtlsError('USAGE', `could not parse --hostgroup ${hostgroup}: expected a whole number`, {
        hint: `usage: ${USAGE}`,
      });
    }
    const statements = proxysqlStatements({
      frontend: {
        ca: required(p, 'frontend-ca', USAGE),
        cert: required(p, 'frontend-cert', USAGE),
        key: required(p, 'frontend-key', USAGE),
      },
      backend: {
        ca: str(p, 'backend-ca'),
        cert: str(p, 'backend-cert'),
        key: str(p, 'backend-key'),
        cipher: str(p, 'cipher'),
        crl: str(p, 'crl'),
      },
      users: (str(p, 'users') ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      hostgroup: hostgroup === undefined ? undefined : Number(hostgroup),
      rotation: flag(p, 'rotation'),
      datadir: str(p, 'datadir'),
    });
    if (!renderedJson(p, ctx, statements))
      ctx.render.lines(...statements.map((s) => (s.startsWith('--') ? s : `${s};`)));
    return 0;
  },
};
