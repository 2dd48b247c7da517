//! CloudTrail's digest signing keys: RSA public keys read from files (DER or PEM, PKCS#1
//! `RSAPublicKey` or X.509 `SubjectPublicKeyInfo`) or returned by CloudTrail's `ListPublicKeys`,
//! each known by its fingerprint (hex MD5 of the PKCS#1 DER form, as `digestPublicKeyFingerprint`
//! names it); SHA256withRSA (PKCS#1 v1.5) verification; and a signing key for the generator.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use md5::{Digest, Md5};

use crate::{Error, Result};

/// Public keys by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    /// Fingerprint (lowercase hex) => PKCS#1 `RSAPublicKey` DER.
    by_fingerprint: BTreeMap<String, Vec<u8>>,
}

impl PublicKeys {
    pub fn is_empty(&self) -> bool {
        self.by_fingerprint.is_empty()
    }

    pub fn fingerprints(&self) -> impl Iterator<Item = &str> {
        self.by_fingerprint.keys().map(String::as_str)
    }

    /// Adds a key given as PKCS#1 DER; returns its fingerprint.
    pub fn add_pkcs1(&mut self, der: Vec<u8>) -> String {
        let fingerprint = fingerprint(&der);
        self.by_fingerprint.insert(fingerprint.clone(), der);
        fingerprint
    }

    /// Adds a key under the fingerprint CloudTrail gave it (`ListPublicKeys`).
    pub fn add_listed(&mut self, fingerprint: &str, der: Vec<u8>) {
        self.by_fingerprint
            .insert(fingerprint.to_ascii_lowercase(), der);
    }

    /// Reads a public key file: DER or PEM, PKCS#1 or SubjectPublicKeyInfo.
    pub fn add_file(&mut self, path: &Path) -> Result<String> {
        let refuse = |reason: String| {
            Error::InvalidArgument(format!("public key file {}: {reason}", path.display()))
        };
        let bytes = std::fs::read(path).map_err(|e| refuse(format!("cannot read it: {e}")))?;
        let der = if bytes.starts_with(b"-----BEGIN") {
            pem_body(&bytes).ok_or_else(|| {
                refuse(
                    "not a PEM public key: expected base64 between -----BEGIN and -----END lines"
                        .into(),
                )
            })?
        } else {
            bytes
        };
        let pkcs1 = to_pkcs1(&der).ok_or_else(|| {
            refuse(
                "not an RSA public key: expected DER or PEM of an RSAPublicKey (PKCS#1) or a \
                 SubjectPublicKeyInfo, e.g. from `openssl rsa -pubout`"
                    .into(),
            )
        })?;
        Ok(self.add_pkcs1(pkcs1))
    }

    pub fn get(&self, fingerprint: &str) -> Option<&[u8]> {
        self.by_fingerprint
            .get(&fingerprint.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// Hex MD5 of a PKCS#1 DER public key.
pub fn fingerprint(pkcs1_der: &[u8]) -> String {
    hex(Md5::digest(pkcs1_der).as_slice())
}

/// Whether `signature` is a valid SHA256withRSA signature of `message` by `pkcs1_der`.
pub fn verify_sha256_rsa(pkcs1_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pkcs1_der)
        .verify(message, signature)
        .is_ok()
}

/// A private key that signs digests (the generator's test key).
pub struct SigningKey {
    pair: RsaKeyPair,
}

impl SigningKey {
    /// Reads an RSA private key: PKCS#8 or PKCS#1, DER or PEM.
    pub fn from_file(path: &Path) -> Result<Self> {
        let refuse = |reason: String| {
            Error::InvalidArgument(format!("signing key file {}: {reason}", path.display()))
        };
        let bytes = std::fs::read(path).map_err(|e| refuse(format!("cannot read it: {e}")))?;
        let der = if bytes.starts_with(b"-----BEGIN") {
            pem_body(&bytes).ok_or_else(|| refuse("not a PEM private key".into()))?
        } else {
            bytes
        };
        // PKCS#8, or the traditional PKCS#1 `RSAPrivateKey` older OpenSSL writes.
        let pair = RsaKeyPair::from_pkcs8(&der)
            .or_else(|_| RsaKeyPair::from_der(&der))
            .map_err(|e| {
                refuse(format!(
                    "not an RSA private key in PKCS#8 or PKCS#1 ({e}): make one with \
                     `openssl genpkey -algorithm RSA -outform DER`"
                ))
            })?;
        Ok(SigningKey { pair })
    }

    /// The public half, PKCS#1 DER.
    pub fn public_pkcs1(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut out = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
            .map_err(|_| Error::Engine("RSA signing failed".into()))?;
        Ok(out)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The base64 body of the first PEM block.
fn pem_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut body = String::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN") {
            inside = true;
        } else if line.starts_with("-----END") {
            break;
        } else if inside {
            body.push_str(line);
        }
    }
    base64_decode(&body)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    if clean.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// One DER element: (tag, content, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// PKCS#1 `RSAPublicKey` DER from either PKCS#1 (returned as is, after checking its shape) or
/// `SubjectPublicKeyInfo` (the BIT STRING it wraps).
fn to_pkcs1(der: &[u8]) -> Option<Vec<u8>> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    let (tag, content, rest) = der_element(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (first_tag, first, after) = der_element(content)?;
    match first_tag {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        INTEGER => {
            let (tag, _, tail) = der_element(after)?;
            (tag == INTEGER && tail.is_empty() && !first.is_empty()).then(|| der.to_vec())
        }
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE, subjectPublicKey BIT STRING }
        SEQUENCE => {
            let (tag, bits, _) = der_element(after)?;
            let (&unused, key) = bits.split_first()?;
            if tag != BIT_STRING || unused != 0 {
                return None;
            }
            to_pkcs1(key)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data")
            .join(name)
    }

    #[test]
    fn pem_spki_and_der_pkcs1_give_the_same_fingerprint() {
        let mut keys = PublicKeys::default();
        let a = keys.add_file(&data("digest-test-key.pub.der")).unwrap();
        let b = keys.add_file(&data("digest-test-key.pub.pem")).unwrap();
        assert_eq!(a, b);
        let signer = SigningKey::from_file(&data("digest-test-key.pk8")).unwrap();
        assert_eq!(fingerprint(&signer.public_pkcs1()), a);
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let signer = SigningKey::from_file(&data("digest-test-key.pk8")).unwrap();
        let other = SigningKey::from_file(&data("digest-other-key.pk8")).unwrap();
        let sig = signer.sign(b"message").unwrap();
        assert!(verify_sha256_rsa(&signer.public_pkcs1(), b"message", &sig));
        assert!(!verify_sha256_rsa(&signer.public_pkcs1(), b"messagf", &sig));
        assert!(!verify_sha256_rsa(&other.public_pkcs1(), b"message", &sig));
    }

    #[test]
    fn a_file_that_is_no_key_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.der");
        std::fs::write(&path, b"not a key").unwrap();
        let err = PublicKeys::default().add_file(&path).unwrap_err();
        assert!(err.to_string().contains("k.der"), "{err}");
        assert!(err.to_string().contains("not an RSA public key"), "{err}");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
