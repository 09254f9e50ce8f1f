/**
 * The server greeting (Initial Handshake Packet, protocol version 10).
 * Spec: MySQL page_protocol_connection_phase_packets_protocol_handshake_v10.html and MariaDB
 * mariadb.com/kb/en/connection/#initial-handshake-packet:
 *
 *   int<1>  protocol version (10)          string<NUL> server version
 *   int<4>  connection id                  string[8] scramble part 1, int<1> filler 0
 *   int<2>  capabilities, low 16 bits      int<1> charset, int<2> status flags
 *   int<2>  capabilities, high 16 bits     int<1> scramble length (or 0 without CLIENT_PLUGIN_AUTH)
 *   string[6] filler                       int<4> MariaDB extended capabilities when CLIENT_MYSQL is clear,
 *                                                 else filler
 *   string[max(13, scramble length - 8)] scramble part 2 (with CLIENT_SECURE_CONNECTION)
 *   string<NUL> authentication plugin name (with CLIENT_PLUGIN_AUTH)
 *
 * MariaDB prefixes its version with `5.5.5-` so that old clients that parse the major version do not
 * mistake 10.x for 1.0; `serverVersion` is the real version, `rawServerVersion` the bytes on the wire.
 */
import { CLIENT_MYSQL, CLIENT_PLUGIN_AUTH, CLIENT_SECURE_CONNECTION, hasCapability } from './capabilities.js';
import { ByteReader, malformed } from './reader.js';
import { ByteWriter } from './writer.js';

/** The only protocol version in use since MySQL 3.21. */
export const PROTOCOL_VERSION_10 = 10;
/** MariaDB's compatibility prefix of the version string. */
export const MARIADB_VERSION_PREFIX = '5.5.5-';
const SCRAMBLE_PART1_LENGTH = 8;
/** Part 2 is at least 13 bytes on the wire: 12 scramble bytes and a NUL. */
const SCRAMBLE_PART2_MIN_LENGTH = 13;
const RESERVED_FILLER_LENGTH = 6;

export interface Greeting {
  readonly protocolVersion: number;
  /** The server version without MariaDB's `5.5.5-` prefix. */
  readonly serverVersion: string;
  /** The version string exactly as sent; encodeGreeting derives it when absent. */
  readonly rawServerVersion?: string;
  readonly connectionId: number;
  /** Scramble (auth plugin data) without the trailing NUL: 20 bytes for the usual plugins. */
  readonly scramble: Buffer;
  /** All 32 capability bits, unsigned. */
  readonly capabilities: number;
  /** MariaDB extended capabilities, present when the server cleared CLIENT_MYSQL. */
  readonly mariadbCapabilities?: number;
  readonly charset: number;
  readonly status: number;
  readonly authPluginName: string;
  readonly flavor: 'mariadb' | 'mysql';
}

export function decodeGreeting(payload: Buffer): Greeting {
  const what = 'server greeting';
  const r = new ByteReader(payload, what);
  const protocolVersion = r.u8('protocol version');
  if (protocolVersion === 0xff) {
    throw malformed(what, 'the server sent an ERR packet instead of a greeting', {
      field: 'protocol version',
    });
  }
  if (protocolVersion !== PROTOCOL_VERSION_10) {
    throw malformed(what, `protocol version ${protocolVersion} is not 10`, {
      field: 'protocol version',
      protocolVersion,
    });
  }
  const rawServerVersion = r.nulString('server version');
  const connectionId = r.u32('connection id');
  const part1 = r.bytes(SCRAMBLE_PART1_LENGTH, 'scramble part 1');
  r.skip(1, 'filler');
  const capsLow = r.u16('capability flags (low)');
  const flavorOf = (caps: number) =>
    !hasCapability(caps, CLIENT_MYSQL) || /mariadb/i.test(rawServerVersion)
      ? ('mariadb' as const)
      : ('mysql' as const);
  if (r.remaining === 0) {
    // Pre-4.1 servers stop here; nothing dbtls can secure, but decode what there is.
    const serverVersion = stripPrefix(rawServerVersion);
    return {
      protocolVersion,
      serverVersion,
      rawServerVersion,
      connectionId,
      scramble: Buffer.from(part1),
      capabilities: capsLow,
      charset: 0,
      status: 0,
      authPluginName: '',
      flavor: flavorOf(capsLow),
    };
  }
  const charset = r.u8('character set');
  const status = r.u16('status flags');
  const capsHigh = r.u16('capability flags (high)');
  const capabilities = (capsLow | (capsHigh << 16)) >>> 0;
  const scrambleLength = r.u8('scramble length');
  r.skip(RESERVED_FILLER_LENGTH, 'reserved filler');
  const extended = r.u32('MariaDB extended capabilities');
  const isMariaExtended = !hasCapability(capabilities, CLIENT_MYSQL);
  let scramble = Buffer.from(part1);
  if (hasCapability(capabilities, CLIENT_SECURE_CONNECTION)) {
    const part2Length = Math.max(SCRAMBLE_PART2_MIN_LENGTH, scrambleLength - SCRAMBLE_PART1_LENGTH);
    const part2 = r.bytes(part2Length, 'scramble part 2');
    // The last byte of part 2 is a NUL terminator, not scramble (MySQL sends 20 scramble bytes + NUL).
    const withoutNul = part2.length > 0 && part2[part2.length - 1] === 0 ? part2.subarray(0, -1) : part2;
    scramble = Buffer.concat([part1, withoutNul]);
  }
  let authPluginName = '';
  if (hasCapability(capabilities, CLIENT_PLUGIN_AUTH) && r.remaining > 0) {
    // MySQL 5.5.7-5.5.9 sent the name without the NUL (bug #59453): read to the end then.
    const rest = r.rest();
    const nul = rest.indexOf(0);
    authPluginName = rest.toString('utf8', 0, nul < 0 ? rest.length : nul);
  }
  const serverVersion = stripPrefix(rawServerVersion);
  const flavor = flavorOf(capabilities);
  return {
    protocolVersion,
    serverVersion,
    rawServerVersion,
    connectionId,
    scramble,
    capabilities,
    ...(isMariaExtended ? { mariadbCapabilities: extended } : {}),
    charset,
    status,
    authPluginName,
    flavor,
  };
}

function stripPrefix(version: string): string {
  return version.startsWith(MARIADB_VERSION_PREFIX) && version.length > MARIADB_VERSION_PREFIX.length
    ? version.slice(MARIADB_VERSION_PREFIX.length)
    : version;
}

/** The greeting's payload. `decodeGreeting(encodeGreeting(g))` gives `g` back; real greetings round-trip byte for byte. */
export function encodeGreeting(g: Greeting): Buffer {
  const rawVersion =
    g.rawServerVersion ??
    (g.flavor === 'mariadb' && !g.serverVersion.startsWith(MARIADB_VERSION_PREFIX)
      ? MARIADB_VERSION_PREFIX + g.serverVersion
      : g.serverVersion);
  const scramble = Buffer.alloc(Math.max(g.scramble.length, SCRAMBLE_PART1_LENGTH));
  g.scramble.copy(scramble);
  const part2 = Buffer.alloc(
    Math.max(SCRAMBLE_PART2_MIN_LENGTH, scramble.length - SCRAMBLE_PART1_LENGTH + 1),
  );
  scramble.subarray(SCRAMBLE_PART1_LENGTH).copy(part2);
  const caps = g.capabilities >>> 0;
  const w = new ByteWriter()
    .u8(g.protocolVersion)
    .nulString(rawVersion)
    .u32(g.connectionId)
    .bytes(scramble.subarray(0, SCRAMBLE_PART1_LENGTH))
    .u8(0)
    .u16(caps & 0xffff)
    .u8(g.charset)
    .u16(g.status)
    .u16(caps >>> 16)
    .u8(hasCapability(caps, CLIENT_PLUGIN_AUTH) ? scramble.length + 1 : 0)
    .zeros(RESERVED_FILLER_LENGTH)
    .u32(hasCapability(caps, CLIENT_MYSQL) ? 0 : (g.mariadbCapabilities ?? 0));
  if (hasCapability(caps, CLIENT_SECURE_CONNECTION)) w.bytes(part2);
  if (hasCapability(caps, CLIENT_PLUGIN_AUTH)) w.nulString(g.authPluginName);
  return w.end();
}

/** The same greeting with some capability bits cleared (what a TLS-terminating proxy, or an attacker, sends on). */
export function withoutCapabilities(g: Greeting, bits: number): Greeting {
  return { ...g, capabilities: (g.capabilities & ~bits) >>> 0 };
}
