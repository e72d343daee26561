// Certificates and keys checked before listening or connecting: node:tls
// takes any text and fails every handshake later with an unrelated
// message ("unsupported protocol"), where Deno's own TLS refuses at once.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";

/** The TLS material of a server or a client. */
export interface TlsMaterial {
  cert?: unknown;
  key?: unknown;
  /** The CA certificates: `caCerts` or `clientCaCerts`. */
  cas?: unknown;
  /** The option name of `cas`, for messages. */
  casName: string;
}

const PEM_CERTIFICATE =
  /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
/** A private key block; the key text may hold the certificate too. */
const PEM_PRIVATE_KEY =
  /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/;

/**
 * Checks that `cert` and `key` come together, parse, and match, and that
 * every CA certificate parses.
 *
 * @throws {TypeError} Naming the option and what is wrong with it.
 */
export function checkTlsMaterial(material: TlsMaterial): void {
  const { cert, key, cas, casName } = material;
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? "cert" : "key";
    throw new TypeError(
      `Cannot use tls: cert and key go together, and ${missing} is missing`,
    );
  }
  if (cert !== undefined) {
    const first = parseCertificates(cert, "tls.cert")[0];
    const privateKey = parseKey(key);
    if (!first.checkPrivateKey(privateKey)) {
      throw new TypeError(
        "Cannot use tls: key is not the private key of the first certificate in cert (the chain starts with the certificate the key belongs to)",
      );
    }
  }
  if (cas === undefined) return;
  if (!Array.isArray(cas)) {
    throw new TypeError(
      `Cannot use tls.${casName}: expected an array of PEM certificates`,
    );
  }
  for (const [i, ca] of cas.entries()) {
    parseCertificates(ca, `tls.${casName}[${i}]`);
  }
}

/** The certificates of a PEM text, at least one. */
function parseCertificates(pem: unknown, name: string): X509Certificate[] {
  if (typeof pem !== "string") {
    throw new TypeError(
      `Cannot use ${name}: expected a PEM text, not a ${typeof pem}`,
    );
  }
  const blocks = pem.match(PEM_CERTIFICATE);
  if (blocks === null) {
    throw new TypeError(
      `Cannot use ${name}: it holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`,
    );
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TypeError(
        `Cannot use ${name}: its certificate ${i + 1} does not parse (${
          error instanceof Error ? error.message : String(error)
        })`,
        { cause: error },
      );
    }
  });
}

function parseKey(pem: unknown): KeyObject {
  if (typeof pem !== "string") {
    throw new TypeError(
      `Cannot use tls.key: expected a PEM text, not a ${typeof pem}`,
    );
  }
  const block = PEM_PRIVATE_KEY.exec(pem)?.[0];
  if (block === undefined) {
    throw new TypeError(
      'Cannot use tls.key: it holds no PEM private key ("-----BEGIN PRIVATE KEY-----")',
    );
  }
  if (block.startsWith("-----BEGIN ENCRYPTED")) {
    throw new TypeError(
      "Cannot use tls.key: it is encrypted, and there is no passphrase option (decrypt it: openssl pkey -in encrypted.key -out plain.key)",
    );
  }
  try {
    return createPrivateKey(block);
  } catch (error) {
    throw new TypeError(
      `Cannot use tls.key: its private key does not parse (${
        error instanceof Error ? error.message : String(error)
      })`,
      { cause: error },
    );
  }
}
