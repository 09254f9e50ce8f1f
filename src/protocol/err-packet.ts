/**
 * The ERR packet. Spec: MySQL "ERR_Packet" (page_protocol_basic_err_packet.html), MariaDB "ERR_Packet":
 * int<1> 0xFF, int<2> error code, then with CLIENT_PROTOCOL_41 a '#' marker and a 5-character SQL state,
 * then the message to the end. A server that refuses a connection before the greeting (too many
 * connections, host blocked) sends it with sequence id 0 and without the SQL state.
 */
import { ByteReader, malformed } from './reader.js';
import { ByteWriter } from './writer.js';

/** First byte of an ERR packet. */
export const ERR_HEADER = 0xff;
/** First byte of an OK packet. */
export const OK_HEADER = 0x00;
/** The marker before the SQL state. */
const SQL_STATE_MARKER = 0x23; // '#'
const SQL_STATE_LENGTH = 5;

/** Server error codes dbtls reacts to (MariaDB/MySQL include/mysqld_error.h). */
export const ER_ACCESS_DENIED_ERROR = 1045;
export const ER_HOST_IS_BLOCKED = 1129;
export const ER_HOST_NOT_PRIVILEGED = 1130;
export const ER_CON_COUNT_ERROR = 1040;
/** MariaDB/MySQL: "Connections using insecure transport are prohibited while --require_secure_transport=ON". */
export const ER_SECURE_TRANSPORT_REQUIRED = 3159;
export const ER_MARIADB_SECURE_TRANSPORT_REQUIRED = 4151;

export interface ErrPacket {
  readonly code: number;
  readonly sqlState?: string;
  readonly message: string;
}

export function isErrPacket(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === ERR_HEADER;
}

export function decodeErrPacket(payload: Buffer): ErrPacket {
  const r = new ByteReader(payload, 'ERR packet');
  const header = r.u8('header');
  if (header !== ERR_HEADER)
    throw malformed('ERR packet', `header is 0x${header.toString(16)}, expected 0xff`, { field: 'header' });
  const code = r.u16('error code');
  if (r.remaining > 0 && r.peek('sql state marker') === SQL_STATE_MARKER) {
    r.skip(1, 'sql state marker');
    const sqlState = r.bytes(SQL_STATE_LENGTH, 'sql state').toString('latin1');
    return { code, sqlState, message: r.rest().toString('utf8') };
  }
  return { code, message: r.rest().toString('utf8') };
}

export function encodeErrPacket(err: ErrPacket): Buffer {
  const w = new ByteWriter().u8(ERR_HEADER).u16(err.code);
  if (err.sqlState !== undefined)
    w.u8(SQL_STATE_MARKER).string(err.sqlState.padEnd(SQL_STATE_LENGTH, '0').slice(0, SQL_STATE_LENGTH));
  return w.string(err.message).end();
}
