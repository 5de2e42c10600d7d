import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, importSPKI, type CryptoKey } from 'jose';
import { SignetError, errorMessage } from '../../errors.js';

/** JWS algorithms Signet signs its tokens with, one per key type. */
export type TokenAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

export interface SigningKey {
  alg: TokenAlgorithm;
  /** JWK thumbprint (RFC 7638) of the public key: the tokens' `kid`. */
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** bits; RSA keys shorter than this are refused (NIST SP 800-131A: 2048 since 2014). */
const MIN_RSA_BITS = 2048;

/**
 * The token signing key of `auth.token.keyFile`: a PEM private key (PKCS#8, or an older
 * encoding Node reads), whose type picks the algorithm: EC P-256 → ES256, Ed25519 → EdDSA,
 * RSA (≥ 2048 bits) → RS256. The algorithm is then pinned for verification, so a token can
 * never choose how it is checked (RFC 8725 §3.1).
 */
export async function loadSigningKey(pem: string, path: string): Promise<SigningKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new SignetError('CONFIG_INVALID', `auth.token.keyFile: ${path} is not a PEM private key: ${errorMessage(err)}`, { cause: err });
  }
  const alg = algorithmOf(key, path);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  const privateKey = await importPKCS8(pkcs8, alg);
  const publicKey = await importSPKI(spki, alg, { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  return { alg, kid, privateKey, publicKey };
}

function algorithmOf(key: KeyObject, path: string): TokenAlgorithm {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  if (type === 'ec' && details?.namedCurve === 'prime256v1') return 'ES256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'rsa') {
    const bits = details?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw new SignetError('CONFIG_INVALID', `auth.token.keyFile: ${path}: RSA keys need at least ${MIN_RSA_BITS} bits, this one has ${bits}`);
    return 'RS256';
  }
  const what = type === 'ec' ? `an EC key on curve ${details?.namedCurve ?? 'unknown'}` : `a ${type ?? 'unknown'} key`;
  throw new SignetError('CONFIG_INVALID', `auth.token.keyFile: ${path} is ${what}; token keys are EC P-256 (ES256), Ed25519 (EdDSA) or RSA (RS256)`);
}
