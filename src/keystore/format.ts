/**
 * Keystore formats, the one vocabulary (issue 11 item 5): `jks` and `pkcs12`, as `keystore show --json` and
 * `export --json` print them. Input may spell PKCS#12 as the CLI's and the file extension's `p12`, as `pfx`,
 * or as Java's keyStoreType `PKCS12` (case ignored): parseKeystoreFormat reads them all; nothing else
 * keeps its own spelling.
 */
import { DbtlsError } from '../errors.js';

export const KEYSTORE_FORMATS = ['jks', 'pkcs12'] as const;
export type KeystoreFormat = (typeof KEYSTORE_FORMATS)[number];

/** The spellings accepted on input, lower case, with the format each means. */
export const KEYSTORE_FORMAT_ALIASES: Readonly<Record<string, KeystoreFormat>> = Object.freeze({
  jks: 'jks',
  pkcs12: 'pkcs12',
  p12: 'pkcs12',
  pfx: 'pkcs12',
});

/** Any accepted spelling, for library callers that pass Java's (`PKCS12`) or the CLI's (`p12`). */
export type KeystoreFormatInput = KeystoreFormat | 'p12' | 'pfx' | 'JKS' | 'PKCS12';

/** Java's keyStoreType / trustStoreType for each format (Connector/J, keytool -storetype). */
export const JAVA_STORE_TYPE: Readonly<Record<KeystoreFormat, 'JKS' | 'PKCS12'>> = Object.freeze({
  jks: 'JKS',
  pkcs12: 'PKCS12',
});

/** The CLI's word for each format (`export p12`, `--format p12`), which is also its file extension. */
export const KEYSTORE_FORMAT_WORD: Readonly<Record<KeystoreFormat, 'jks' | 'p12'>> = Object.freeze({
  jks: 'jks',
  pkcs12: 'p12',
});

/** The CLI's words, in the order of KEYSTORE_FORMATS: the choices of `--format`. */
export const KEYSTORE_FORMAT_WORDS = Object.freeze(KEYSTORE_FORMATS.map((f) => KEYSTORE_FORMAT_WORD[f]));

/** How the text output names each format. */
export const KEYSTORE_FORMAT_LABEL: Readonly<Record<KeystoreFormat, string>> = Object.freeze({
  jks: 'JKS',
  pkcs12: 'PKCS#12',
});

/** A format as a user or caller spells it; USAGE naming `what` (the flag) and the usage for anything else. */
export function parseKeystoreFormat(
  text: string,
  what = 'the keystore format',
  usage?: string,
): KeystoreFormat {
  const format = KEYSTORE_FORMAT_ALIASES[text.trim().toLowerCase()];
  if (format) return format;
  throw new DbtlsError('USAGE', `could not use ${what} ${JSON.stringify(text)}: expected jks or p12`, {
    hint: `JKS is jks; PKCS#12 is p12 (also pkcs12, pfx, PKCS12)${usage ? `; usage: ${usage}` : ''}`,
  });
}

/** The format a file name implies: `.p12` and `.pfx` are PKCS#12, anything else JKS (Java's old default). */
export function keystoreFormatOfFile(file: string): KeystoreFormat {
  return /\.(p12|pfx)$/i.test(file) ? 'pkcs12' : 'jks';
}
