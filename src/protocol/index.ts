/** The MySQL wire format: pure encode/decode, no sockets. */
export * from './capabilities.js';
export * from './err-packet.js';
export * from './handshake.js';
export * from './handshake-response.js';
export * from './packet.js';
export * from './reader.js';
export * from './ssl-request.js';
export * from './writer.js';
