//! A plugin's publisher identity: an ed25519 key that signs the build.
//!
//! The signature is a custom section named [`SECTION`], the last section of
//! the component: the publisher's public key (32 bytes) and an ed25519
//! signature (64 bytes) over [`CONTEXT`] followed by the sha256 of every byte
//! before the section. Custom sections are ignored by wasm engines, so a
//! signed component runs as it is. Shared by the host (which verifies) and
//! the test kit's build script (which signs the first-party plugins).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub const SECTION: &str = "tails-server-signature";
const CONTEXT: &[u8] = b"tails-server plugin signature v1\0";
const PAYLOAD: usize = 32 + 64;

/// A verified publisher: the public key, hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher(pub String);

impl Publisher {
    /// What people compare: the key's sha256, the first 16 bytes in groups.
    pub fn fingerprint(&self) -> String {
        let key = hex::decode(&self.0).unwrap_or_default();
        let digest = Sha256::digest(key);
        let hex = hex::encode(&digest[..16]);
        let groups: Vec<&str> = (0..hex.len()).step_by(8).map(|i| &hex[i..i + 8]).collect();
        format!("ed25519:{}", groups.join(":"))
    }
}

/// Read one LEB128 u32 at `at`; returns it and the bytes it took.
fn leb128(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for i in 0..5 {
        let b = *bytes.get(at + i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return usize::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// Where the last section starts, if it is our custom section: (start of
/// the section, its payload).
fn last_section(wasm: &[u8]) -> Option<(usize, &[u8])> {
    let mut at = 8;
    let mut last = None;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        let (size, len) = leb128(wasm, at + 1)?;
        let body = at + 1 + len;
        let end = body.checked_add(size)?;
        if end > wasm.len() {
            return None;
        }
        last = Some((start, id, body, end));
        at = end;
    }
    let (start, id, body, end) = last?;
    if id != 0 {
        return None;
    }
    let (name_len, len) = leb128(wasm, body)?;
    let name_end = body + len + name_len;
    if wasm.get(body + len..name_end)? != SECTION.as_bytes() {
        return None;
    }
    Some((start, &wasm[name_end..end]))
}

fn message(unsigned: &[u8]) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(&Sha256::digest(unsigned));
    m
}

/// The publisher of a signed component; `Ok(None)` when it carries no
/// signature; an error when it carries one that does not verify.
pub fn verify(wasm: &[u8]) -> Result<Option<Publisher>, String> {
    let Some((start, payload)) = last_section(wasm) else {
        if wasm.windows(SECTION.len()).any(|w| w == SECTION.as_bytes()) {
            return Err("its signature is not the last section of the file".into());
        }
        return Ok(None);
    };
    if payload.len() != PAYLOAD {
        return Err("its signature section is malformed".into());
    }
    let key = VerifyingKey::from_bytes(payload[..32].try_into().unwrap())
        .map_err(|_| "its publisher key is not an ed25519 key".to_string())?;
    // A key of small order (the identity and the other torsion points) has
    // no private key behind it: with it, a signature of zeros "verifies"
    // any file under the lax rule, so anyone could sign as that publisher.
    if key.is_weak() {
        return Err("its publisher key is a weak ed25519 key (a point of small order, which no private key makes): its signature proves nothing".into());
    }
    let signature = Signature::from_bytes(payload[32..].try_into().unwrap());
    // Strict: also refuses a signature whose R is of small order, and
    // non-canonical encodings (the forms that let one signature pass for another).
    key.verify_strict(&message(&wasm[..start]), &signature).map_err(|_| {
        "its signature does not match its contents (the file was changed after it was signed)"
            .to_string()
    })?;
    Ok(Some(Publisher(hex::encode(key.as_bytes()))))
}

/// The component without its signature (if any).
pub fn strip(wasm: &[u8]) -> &[u8] {
    match last_section(wasm) {
        Some((start, _)) => &wasm[..start],
        None => wasm,
    }
}

/// Sign `wasm` (replacing a signature it carries) with the 32-byte `seed`.
pub fn sign(wasm: &[u8], seed: &[u8; 32]) -> Vec<u8> {
    let unsigned = strip(wasm);
    let key = SigningKey::from_bytes(seed);
    let signature = key.sign(&message(unsigned));
    let mut payload = Vec::with_capacity(1 + SECTION.len() + PAYLOAD);
    payload.push(SECTION.len() as u8);
    payload.extend_from_slice(SECTION.as_bytes());
    payload.extend_from_slice(key.verifying_key().as_bytes());
    payload.extend_from_slice(&signature.to_bytes());
    let mut out = unsigned.to_vec();
    out.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        out.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(&payload);
    out
}

/// The public key of a seed.
pub fn publisher_of(seed: &[u8; 32]) -> Publisher {
    Publisher(hex::encode(SigningKey::from_bytes(seed).verifying_key().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header alone.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn signed_verifies_and_changes_are_caught() {
        let seed = [7u8; 32];
        let signed = sign(EMPTY, &seed);
        assert_eq!(verify(&signed).unwrap(), Some(publisher_of(&seed)));
        assert_eq!(verify(EMPTY).unwrap(), None);
        assert_eq!(strip(&signed), EMPTY);
        // Signing again replaces the signature.
        let other = sign(&signed, &[9u8; 32]);
        assert_eq!(verify(&other).unwrap(), Some(publisher_of(&[9u8; 32])));
        assert_eq!(other.len(), signed.len());
        // A changed byte before the signature.
        let mut changed = signed.clone();
        changed[5] ^= 1;
        assert!(verify(&changed).unwrap_err().contains("does not match"));
        // A section appended after the signature hides it: refused, not unsigned.
        let mut appended = signed.clone();
        appended.extend_from_slice(&[0, 2, 1, b'x']);
        assert!(verify(&appended).unwrap_err().contains("not the last section"));
    }

    /// A component "signed" with `key` and the 64 bytes `signature`, as an
    /// attacker writes the section by hand.
    fn forged(key: [u8; 32], signature: [u8; 64]) -> Vec<u8> {
        let mut out = sign(EMPTY, &[3u8; 32]);
        let at = out.len() - 64 - 32;
        out[at..at + 32].copy_from_slice(&key);
        out[at + 32..].copy_from_slice(&signature);
        out
    }

    fn point(hex: &str) -> [u8; 32] {
        hex::decode(hex).unwrap().try_into().unwrap()
    }

    /// The eight points of small order (ed25519's torsion subgroup), and a
    /// non-canonical encoding of the identity (y = p + 1).
    const SMALL_ORDER: [&str; 9] = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];

    #[test]
    fn a_key_of_small_order_signs_nothing() {
        // The attack: the identity as the key, R = identity and s = 0. The
        // lax rule accepts it for any message; ours refuses it.
        let identity = point(SMALL_ORDER[0]);
        let mut zeros = [0u8; 64];
        zeros[..32].copy_from_slice(&identity);
        let lax = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(
            ed25519_dalek::Verifier::verify(
                &lax,
                b"any file at all",
                &Signature::from_bytes(&zeros)
            )
            .is_ok(),
            "the forgery works under the lax rule"
        );
        for hex in SMALL_ORDER {
            let key = point(hex);
            for r in [identity, key] {
                let mut signature = [0u8; 64];
                signature[..32].copy_from_slice(&r);
                let Err(e) = verify(&forged(key, signature)) else {
                    panic!("{hex}: a small-order key verified")
                };
                assert!(
                    e.contains("weak ed25519 key") || e.contains("not an ed25519 key"),
                    "{hex}: {e}"
                );
            }
        }
    }

    #[test]
    fn a_signature_with_r_of_small_order_is_refused() {
        // A real key, and a signature whose R is a torsion point: strict
        // verification refuses it before any arithmetic could accept it.
        let key = SigningKey::from_bytes(&[5u8; 32]).verifying_key().to_bytes();
        for hex in SMALL_ORDER {
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&point(hex));
            assert!(
                verify(&forged(key, signature)).unwrap_err().contains("does not match"),
                "{hex}"
            );
        }
        // And a genuine signature with its s made non-canonical (s + ℓ).
        let seed = [5u8; 32];
        let mut signed = sign(EMPTY, &seed);
        let s_at = signed.len() - 32;
        let l: [u8; 32] = point("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(signed[s_at + i]) + u16::from(l[i]) + carry;
            signed[s_at + i] = sum as u8;
            carry = sum >> 8;
        }
        assert!(
            verify(&signed).is_err(),
            "s + ℓ, a second form of the same signature (malleability), is refused"
        );
    }

    #[test]
    fn fingerprints_are_short_and_stable() {
        let fp = publisher_of(&[1u8; 32]).fingerprint();
        assert!(fp.starts_with("ed25519:") && fp.len() == "ed25519:".len() + 32 + 3, "{fp}");
        assert_eq!(fp, publisher_of(&[1u8; 32]).fingerprint());
        assert_ne!(fp, publisher_of(&[2u8; 32]).fingerprint());
    }
}
