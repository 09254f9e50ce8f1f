/**
 * The SSLRequest packet. Spec: MySQL page_protocol_connection_phase_packets_protocol_ssl_request.html,
 * MariaDB mariadb.com/kb/en/connection/#sslrequest-packet: a 32-byte payload, sequence id 1, after which
 * the client starts the TLS handshake on the same socket and sends its handshake response inside TLS
 * with sequence id 2.
 *
 *   int<4> capabilities (with CLIENT_SSL)   int<4> max packet size   int<1> charset
 *   string[19] zero filler                  int<4> MariaDB extended capabilities (zero for MySQL)
 */
import { CLIENT_SSL } from './capabilities.js';
import { ByteReader, malformed } from './reader.js';
import { ByteWriter } from './writer.js';

export const SSL_REQUEST_LENGTH = 32;
/** The sequence id of the SSLRequest (the greeting is 0). */
export const SSL_REQUEST_SEQUENCE_ID = 1;
/** 16 MiB, what the mysql client announces. */
export const DEFAULT_MAX_PACKET_SIZE = 16 * 1024 * 1024;
/** utf8mb4_general_ci: accepted by every server dbtls targets. */
export const DEFAULT_CHARSET = 45;
const FILLER_LENGTH = 19;

export interface SslRequest {
  readonly capabilities: number;
  readonly maxPacketSize?: number;
  readonly charset?: number;
  readonly mariadbCapabilities?: number;
}

export function encodeSslRequest(o: SslRequest): Buffer {
  return new ByteWriter()
    .u32((o.capabilities | CLIENT_SSL) >>> 0)
    .u32(o.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE)
    .u8(o.charset ?? DEFAULT_CHARSET)
    .zeros(FILLER_LENGTH)
    .u32(o.mariadbCapabilities ?? 0)
    .end();
}

export function decodeSslRequest(payload: Buffer): Required<SslRequest> {
  const r = new ByteReader(payload, 'SSLRequest');
  if (payload.length !== SSL_REQUEST_LENGTH) {
    throw malformed('SSLRequest', `its length is ${payload.length}, expected ${SSL_REQUEST_LENGTH}`, {
      field: 'length',
    });
  }
  const capabilities = r.u32('capability flags');
  const maxPacketSize = r.u32('max packet size');
  const charset = r.u8('character set');
  r.skip(FILLER_LENGTH, 'filler');
  const mariadbCapabilities = r.u32('MariaDB extended capabilities');
  return { capabilities, maxPacketSize, charset, mariadbCapabilities };
}
