/**
 * Just enough DER reading to get the raw bytes of a certificate's issuer,
 * subject and SubjectPublicKeyInfo. Go's crypto/x509 chains a leaf to its
 * CA by comparing `RawIssuer` with `RawSubject` byte for byte, and kubeadm's
 * CA hash is over `RawSubjectPublicKeyInfo`; re-encoding through a library
 * could change those bytes, so we read them as they are on the wire.
 */

/** One DER element: where its contents start and end inside the buffer. */
interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

function readTlv(buf: Uint8Array, at: number): Tlv {
  if (at + 2 > buf.length) throw new Error("malformed DER: truncated element");
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("malformed DER: multi-byte tags are not used in certificates");
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    // Indefinite lengths are BER, not DER; 4 length bytes is far beyond any certificate.
    if (n === 0 || n > 4) throw new Error("malformed DER: bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new Error("malformed DER: element runs past the end");
  return { tag, start: at, contentStart: p, end: p + len };
}

/** The immediate children of a constructed element. */
function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const t = readTlv(buf, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;
const VERSION_TAG = 0xa0; // [0] EXPLICIT Version in TBSCertificate

/** Raw DER pieces of a certificate that chain building and pinning compare. */
export interface CertificateRawFields {
  /** The issuer Name, tag and length included. */
  readonly issuer: Uint8Array;
  /** The subject Name, tag and length included. */
  readonly subject: Uint8Array;
  /** The whole SubjectPublicKeyInfo, tag and length included. */
  readonly subjectPublicKeyInfo: Uint8Array;
  /** The subjectPublicKey BIT STRING contents without the unused-bits byte (RFC 5280 §4.2.1.2 hashes these). */
  readonly subjectPublicKey: Uint8Array;
}

/** Reads the raw issuer, subject and public key of a DER certificate. */
export function certificateRawFields(der: Uint8Array): CertificateRawFields {
  const cert = readTlv(der, 0);
  if (cert.tag !== SEQUENCE) throw new Error("malformed certificate: not a SEQUENCE");
  const tbs = children(der, cert)[0];
  if (!tbs || tbs.tag !== SEQUENCE) throw new Error("malformed certificate: no TBSCertificate");
  const fields = children(der, tbs);
  const i = fields[0]?.tag === VERSION_TAG ? 1 : 0;
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const issuer = fields[i + 2];
  const subject = fields[i + 4];
  const spki = fields[i + 5];
  if (!issuer || !subject || !spki || spki.tag !== SEQUENCE) throw new Error("malformed certificate: short TBSCertificate");
  return {
    issuer: der.subarray(issuer.start, issuer.end),
    subject: der.subarray(subject.start, subject.end),
    subjectPublicKeyInfo: der.subarray(spki.start, spki.end),
    subjectPublicKey: publicKeyBits(der, spki),
  };
}

function publicKeyBits(der: Uint8Array, spki: Tlv): Uint8Array {
  const bits = children(der, spki)[1];
  if (!bits || bits.tag !== BIT_STRING || bits.end === bits.contentStart) throw new Error("malformed SubjectPublicKeyInfo: no subjectPublicKey");
  return der.subarray(bits.contentStart + 1, bits.end);
}

/** The subjectPublicKey BIT STRING contents (unused-bits byte dropped) of a DER SubjectPublicKeyInfo. */
export function subjectPublicKeyOf(spkiDer: Uint8Array): Uint8Array {
  const spki = readTlv(spkiDer, 0);
  if (spki.tag !== SEQUENCE) throw new Error("malformed SubjectPublicKeyInfo: not a SEQUENCE");
  return publicKeyBits(spkiDer, spki);
}
