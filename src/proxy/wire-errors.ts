/**
 * What the proxy tells a client that it cannot serve: a MySQL ERR packet the client prints as is
 * ("ERROR 1043 (08S01): dbtls proxy: …"), so the application's own log names the cause and the fix.
 * Server-range codes only: libmariadb (3.3) reports an ERR carrying a client-range code (2000-2999, e.g.
 * CR_SSL_CONNECTION_ERROR) as "2027 Received malformed packet" and drops the message (measured).
 */
import type { DbtlsError } from '../errors.js';
import { ER_CON_COUNT_ERROR, encodeErrPacket } from '../protocol/err-packet.js';
import { framePacket } from '../protocol/packet.js';

/** ER_HANDSHAKE_ERROR "Bad handshake" (08S01): the proxy's handshake with the upstream did not pass. */
export const ER_HANDSHAKE_ERROR = 1043;
/** SQL state of ER_CON_COUNT_ERROR (08004: server rejected the connection). */
const SQLSTATE_REJECTED = '08004';
/** SQL state of ER_HANDSHAKE_ERROR (communication link failure). */
const SQLSTATE_LINK = '08S01';
/** Long enough for a cause and a hint, short enough for any client's error buffer (MYSQL_ERRMSG_SIZE 512). */
const MAX_MESSAGE = 500;

/** Text that came (partly) from the network, reduced to printable ASCII and bounded. */
export function printable(text: string, max = MAX_MESSAGE): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

/** The one line the client sees and the proxy logs: `dbtls proxy: <message> (<CODE>); hint: <hint>`. */
export function proxyErrorLine(err: DbtlsError): string {
  return printable(`dbtls proxy: ${err.message} (${err.code})${err.hint ? `; hint: ${err.hint}` : ''}`);
}

/** The ERR frame for `err`, with the sequence id the client expects next. */
export function errFrame(sequenceId: number, err: DbtlsError): Buffer {
  const code = err.code === 'PROXY_MAX_CONNECTIONS' ? ER_CON_COUNT_ERROR : ER_HANDSHAKE_ERROR;
  const message = proxyErrorLine(err);
  // Before the greeting a server sends no SQL state (the client has not announced CLIENT_PROTOCOL_41).
  if (sequenceId === 0) return framePacket(0, encodeErrPacket({ code, message }));
  const sqlState = code === ER_CON_COUNT_ERROR ? SQLSTATE_REJECTED : SQLSTATE_LINK;
  return framePacket(sequenceId, encodeErrPacket({ code, sqlState, message }));
}
