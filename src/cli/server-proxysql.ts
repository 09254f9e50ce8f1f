/**
 * `dbtls proxysql`: the ProxySQL admin statements for frontend and backend TLS (src/deploy/proxysql.ts).
 * Printed only: dbtls never connects to ProxySQL.
 */
import { proxysqlStatements } from '../deploy/proxysql.js';
import { DbtlsError } from '../errors.js';
import { flag, parse, required, str } from './args.js';
import type { Command } from './command.js';
import { renderedJson } from './server-admin.js';

const USAGE =
  'dbtls proxysql --ca F --cert F --key F [--backend-ca F --backend-cert F --backend-key F] [--users u1,u2] [--hostgroup N] [--cipher C] [--crl F] [--datadir /var/lib/proxysql] [--rotation] [--json]';

export const proxysqlCommand: Command = {
  name: ['proxysql'],
  usage: USAGE,
  summary: 'print the ProxySQL admin statements for frontend and backend TLS',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'backend-ca': { type: 'string' },
        'backend-cert': { type: 'string' },
        'backend-key': { type: 'string' },
        users: { type: 'string' },
        hostgroup: { type: 'string' },
        cipher: { type: 'string' },
        crl: { type: 'string' },
        rotation: { type: 'boolean' },
        datadir: { type: 'string' },
        json: { type: 'boolean' },
      },
      USAGE,
    );
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
        ca: required(p, 'ca', USAGE),
        cert: required(p, 'cert', USAGE),
        key: required(p, 'key', USAGE),
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
