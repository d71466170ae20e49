//! A plugin's publisher identity: an ed25519 key that signs the build.
//!
//! The signature is a custom section named [`SECTION`], the last section of
//! the component: the publisher's public key (32 bytes) and an ed25519
//! signature (64 bytes) over [`CONTEXT`] followed by the sha256 of every byte
//! before the section. Custom sections are ignored by wasm engines, so a
//! signed component runs as it is. Shared by the host (which verifies) and
//! the test kit's build script (which signs the first-party plugins).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
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
    let key = VerifyingKey::from_bytes(payload[..32].try_into().unwrap()).map_err(|_| "its publisher key is not an ed25519 key".to_string())?;
    let signature = Signature::from_bytes(payload[32..].try_into().unwrap());
    key.verify(&message(&wasm[..start]), &signature)
        .map_err(|_| "its signature does not match its contents (the file was changed after it was signed)".to_string())?;
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

    #[test]
    fn fingerprints_are_short_and_stable() {
        let fp = publisher_of(&[1u8; 32]).fingerprint();
        assert!(fp.starts_with("ed25519:") && fp.len() == "ed25519:".len() + 32 + 3, "{fp}");
        assert_eq!(fp, publisher_of(&[1u8; 32]).fingerprint());
        assert_ne!(fp, publisher_of(&[2u8; 32]).fingerprint());
    }
}
