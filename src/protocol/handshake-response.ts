/**
 * The client's handshake response (HandshakeResponse41) and the authentication exchange that follows.
 * Spec: MySQL page_protocol_connection_phase_packets_protocol_handshake_response.html, MariaDB
 * mariadb.com/kb/en/connection/#handshake-response-packet:
 *
 *   int<4> capabilities   int<4> max packet size   int<1> charset   string[19] filler
 *   int<4> MariaDB extended capabilities (filler for MySQL)         string<NUL> user name
 *   auth response: lenenc string (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA), or int<1> length + bytes
 *   (CLIENT_SECURE_CONNECTION), or string<NUL>
 *   string<NUL> database (CLIENT_CONNECT_WITH_DB)      string<NUL> auth plugin name (CLIENT_PLUGIN_AUTH)
 *
 * Only what a relay needs is decoded: the capabilities and the plugin the client answered with. The user
 * name and the auth response are skipped, never returned: a relay has no business keeping them.
 */
import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  hasCapability,
} from './capabilities.js';
import { ByteReader, malformed } from './reader.js';
import { SSL_REQUEST_LENGTH } from './ssl-request.js';

/** Authentication exchange headers (MySQL page_protocol_connection_phase.html). */
export const AUTH_SWITCH_REQUEST = 0xfe;
export const AUTH_MORE_DATA = 0x01;
/** caching_sha2_password (MySQL sql/auth/sha2_password.cc): the second byte of AuthMoreData. */
export const SHA2_FAST_AUTH_SUCCESS = 0x03;
export const SHA2_PERFORM_FULL_AUTHENTICATION = 0x04;
/** The client's one-byte request for the server's RSA public key. */
export const SHA2_REQUEST_PUBLIC_KEY = 0x02;
export const CACHING_SHA2_PASSWORD = 'caching_sha2_password';

export interface HandshakeResponseInfo {
  readonly capabilities: number;
  /** The plugin the client's auth response was made with ('' without CLIENT_PLUGIN_AUTH). */
  readonly authPluginName: string;
}

export function decodeHandshakeResponse(payload: Buffer): HandshakeResponseInfo {
  const { capabilities, pluginAt } = walkHandshakeResponse(payload);
  const authPluginName =
    pluginAt < 0 ? '' : new ByteReader(payload.subarray(pluginAt), WHAT).nulString('auth plugin name');
  return { capabilities, authPluginName };
}

/**
 * Where the auth plugin name lies in a handshake response ([start, end), without its NUL), or undefined
 * without one. The proxy's prewarm fallback overwrites it in place to make the server ask again.
 */
export function authPluginSpan(payload: Buffer): readonly [number, number] | undefined {
  const { pluginAt } = walkHandshakeResponse(payload);
  if (pluginAt < 0) return undefined;
  const end = payload.indexOf(0, pluginAt);
  return [pluginAt, end < 0 ? payload.length : end];
}

const WHAT = 'handshake response';

/** Bounds-checks the fields up to the plugin name; returns the capabilities and its offset (-1: none). */
function walkHandshakeResponse(payload: Buffer): { capabilities: number; pluginAt: number } {
  if (payload.length < SSL_REQUEST_LENGTH) {
    throw malformed(WHAT, `its length is ${payload.length}, at least ${SSL_REQUEST_LENGTH} expected`, {
      field: 'length',
    });
  }
  const r = new ByteReader(payload, WHAT);
  const capabilities = r.u32('capability flags');
  if (!hasCapability(capabilities, CLIENT_PROTOCOL_41)) {
    throw malformed(WHAT, 'the client does not speak protocol 4.1 (CLIENT_PROTOCOL_41 is clear)', {
      field: 'capability flags',
    });
  }
  r.skip(SSL_REQUEST_LENGTH - 4, 'max packet size, charset and filler');
  r.nulString('user name');
  if (hasCapability(capabilities, CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    r.skip(lenencInt(r, 'auth response length'), 'auth response');
  } else if (hasCapability(capabilities, CLIENT_SECURE_CONNECTION)) {
    r.skip(r.u8('auth response length'), 'auth response');
  } else {
    r.nulString('auth response');
  }
  if (hasCapability(capabilities, CLIENT_CONNECT_WITH_DB) && r.remaining > 0) r.nulString('database');
  const named = hasCapability(capabilities, CLIENT_PLUGIN_AUTH) && r.remaining > 0;
  return { capabilities, pluginAt: named ? r.position : -1 };
}

/** A length-encoded integer (page_protocol_basic_dt_integers.html); 8-byte forms are refused as absurd here. */
function lenencInt(r: ByteReader, field: string): number {
  const first = r.u8(field);
  if (first < 0xfb) return first;
  if (first === 0xfc) return r.u16(field);
  if (first === 0xfd) return r.u24(field);
  throw malformed(r.what, `${field} has the unexpected prefix 0x${first.toString(16)}`, { field });
}

/** An AuthSwitchRequest: 0xfe, plugin name NUL, plugin data (the new scramble, NUL-terminated). */
export function decodeAuthSwitch(payload: Buffer): { pluginName: string; data: Buffer } {
  const r = new ByteReader(payload, 'auth switch request');
  r.skip(1, 'header');
  const pluginName = r.nulString('plugin name');
  const rest = r.rest();
  const data = rest.length > 0 && rest[rest.length - 1] === 0 ? rest.subarray(0, -1) : rest;
  return { pluginName, data: Buffer.from(data) };
}
