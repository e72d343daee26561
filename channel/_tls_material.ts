// Certificates and keys checked before listening or connecting: node:tls
// takes any text and fails every handshake later with an unrelated
// message ("unsupported protocol"), where Deno's own TLS refuses at once.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";

/** The TLS material of a server (`side` "listen") or a client ("connect"). */
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
        "Cannot use tls: key is not the private key of the certificate in cert",
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
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new TypeError(
      `Cannot use tls.key: it is not a PEM private key (${
        error instanceof Error ? error.message : String(error)
      })`,
      { cause: error },
    );
  }
}
