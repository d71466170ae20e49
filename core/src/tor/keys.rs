//! Onion service keys and addresses (rend-spec-v3), and client-authorization
//! key pairs, in our own code so that the address is known without asking tor.

use anyhow::{bail, Context as _, Result};
use curve25519_dalek::edwards::EdwardsPoint;
use data_encoding::{BASE32_NOPAD, BASE64};
use sha2::{Digest, Sha512};
use sha3::Sha3_256;

/// The service's identity: tor's 64-byte "expanded" ed25519 secret key
/// (clamped scalar ‖ PRF prefix), the form `ADD_ONION ED25519-V3:` takes.
#[derive(Clone)]
pub struct OnionKey([u8; 64]);

impl std::fmt::Debug for OnionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OnionKey({})", self.address())
    }
}

impl OnionKey {
    /// A new key from 32 random bytes: h = SHA-512(seed), clamped.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the system's random number generator failed");
        Self::from_seed(&seed)
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let mut h: [u8; 64] = Sha512::digest(seed).into();
        h[0] &= 248;
        h[31] &= 63;
        h[31] |= 64;
        OnionKey(h)
    }

    /// From the base64 blob tor prints after `ED25519-V3:`.
    pub fn from_base64(blob: &str) -> Result<Self> {
        let bytes = BASE64.decode(blob.as_bytes()).context("the onion key is not base64")?;
        let key: [u8; 64] =
            bytes.try_into().map_err(|_| anyhow::anyhow!("the onion key is not 64 bytes"))?;
        if key[0] & 7 != 0 || key[31] & 128 != 0 || key[31] & 64 == 0 {
            bail!("the onion key is not a clamped ed25519 scalar");
        }
        Ok(OnionKey(key))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.0)
    }

    pub fn public_key(&self) -> [u8; 32] {
        let scalar: [u8; 32] = self.0[..32].try_into().unwrap();
        EdwardsPoint::mul_base_clamped(scalar).compress().to_bytes()
    }

    /// The 56-character address, without `.onion`.
    pub fn address(&self) -> String {
        address_of(&self.public_key())
    }
}

/// base32(pubkey ‖ checksum[..2] ‖ 0x03), lower case;
/// checksum = SHA3-256(".onion checksum" ‖ pubkey ‖ 0x03).
pub fn address_of(public_key: &[u8; 32]) -> String {
    let mut hasher = Sha3_256::new();
    hasher.update(b".onion checksum");
    hasher.update(public_key);
    hasher.update([3u8]);
    let checksum = hasher.finalize();
    let mut raw = Vec::with_capacity(35);
    raw.extend_from_slice(public_key);
    raw.extend_from_slice(&checksum[..2]);
    raw.push(3);
    BASE32_NOPAD.encode(&raw).to_ascii_lowercase()
}

/// Check an address (with or without `.onion`): length, version, checksum.
pub fn check_address(address: &str) -> Result<()> {
    let bare = address.strip_suffix(".onion").unwrap_or(address);
    let raw = BASE32_NOPAD.decode(bare.to_ascii_uppercase().as_bytes()).context("not base32")?;
    if raw.len() != 35 || raw[34] != 3 {
        bail!("{address} is not a v3 onion address");
    }
    let public: [u8; 32] = raw[..32].try_into().unwrap();
    if address_of(&public) != bare.to_ascii_lowercase() {
        bail!("{address} has a wrong checksum");
    }
    Ok(())
}

/// One client's x25519 key pair for client authorization.
#[derive(Clone)]
pub struct ClientKey {
    secret: [u8; 32],
}

impl ClientKey {
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the system's random number generator failed");
        ClientKey { secret }
    }

    /// From the 52-character base32 private key (upper or lower case).
    pub fn from_base32(text: &str) -> Result<Self> {
        let bytes = BASE32_NOPAD
            .decode(text.trim().to_ascii_uppercase().as_bytes())
            .context("the client key is not base32")?;
        let secret: [u8; 32] =
            bytes.try_into().map_err(|_| anyhow::anyhow!("the client key is not 32 bytes"))?;
        Ok(ClientKey { secret })
    }

    /// The private key as Tor Browser asks for it: 52 characters of base32.
    pub fn private_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.secret)
    }

    /// The private key as `ONION_CLIENT_AUTH_ADD` takes it.
    pub fn private_base64(&self) -> String {
        BASE64.encode(&self.secret)
    }

    /// The public key as `ClientAuthV3=` and `.auth` files take it.
    pub fn public_base32(&self) -> String {
        let secret = x25519_dalek::StaticSecret::from(self.secret);
        BASE32_NOPAD.encode(x25519_dalek::PublicKey::from(&secret).as_bytes())
    }

    /// The line of a client's `<name>.auth_private` file.
    pub fn auth_private_line(&self, address: &str) -> String {
        format!(
            "{}:descriptor:x25519:{}",
            address.strip_suffix(".onion").unwrap_or(address),
            self.private_base32()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (ServiceID, PrivateKey) pairs that tor 0.4.9.11 issued for `ADD_ONION NEW:ED25519-V3`.
    const FROM_TOR: &[(&str, &str)] = &[
        ("7ni5em2lz37g5rzlvfuqsbnwzak32ny2t6vduavigl25qivl7tjffqad", "gEYzlL1uuQpZ8k0VNP6Ydu0KXROd1H893rMb1O3EYUwDvH3H+gSZOW9E2i7TaTy6NCeFr4dNZUcUt92NRal4xg=="),
        ("icdqeryb42h5sxshlwkyf3lraqixpbahqu6ns5aznxpsx22lnbzewtad", "wM9CJRE1vvExhL1Oe41p3abRP+VP9ERcgg/IBP1nf0RFtrTyhxo5jkOSHBCae37Mz0MmoH+h9B8vxwUIIEHPGQ=="),
        ("rvuyr3fhwjbznptdpvoae2e7alxi2qmf3hhfojgdi62xzbq6hnmdfrid", "KI+QQh972pbOASJrSZ6CgREGtn8CLcqo6CeRNSccrVmlhHqpwty+43ow+r4iuuOhC4yyxRLKK0Cat6W1ZGX/3Q=="),
        ("kx2os2ne7icrbytdghrlnqxinyngz24y3llphf5u2bpkyhmmwxhwmsyd", "wP0Np9zYNhjcXFcU/YyBZjXm0Ad6NmlEJIVgkgfw40Oxih//+SfaLpXZO900v62b96hcKhpBGOp9Xio+yY50ig=="),
    ];

    #[test]
    fn addresses_match_the_ones_tor_issued() {
        for (address, blob) in FROM_TOR {
            let key = OnionKey::from_base64(blob).unwrap();
            assert_eq!(&key.address(), address);
            assert_eq!(key.to_base64(), *blob);
            check_address(address).unwrap();
            check_address(&format!("{address}.onion")).unwrap();
        }
    }

    #[test]
    fn bad_addresses_and_keys_are_refused() {
        let mut wrong = FROM_TOR[0].0.to_string();
        wrong.replace_range(0..1, "a");
        assert!(check_address(&wrong).is_err());
        assert!(check_address("abc.onion").is_err());
        assert!(OnionKey::from_base64("AAAA").is_err());
        assert!(OnionKey::from_base64(&BASE64.encode(&[0xffu8; 64])).is_err(), "unclamped");
    }

    #[test]
    fn generated_keys_are_clamped_and_distinct() {
        let a = OnionKey::generate();
        let b = OnionKey::generate();
        assert_ne!(a.address(), b.address());
        OnionKey::from_base64(&a.to_base64()).unwrap();
        check_address(&a.address()).unwrap();
        assert_eq!(a.address().len(), 56);
    }

    #[test]
    fn client_keys_have_the_formats_tor_takes() {
        let key = ClientKey::generate();
        assert_eq!(key.private_base32().len(), 52);
        assert_eq!(key.public_base32().len(), 52);
        assert_eq!(
            ClientKey::from_base32(&key.private_base32().to_lowercase()).unwrap().public_base32(),
            key.public_base32()
        );
        let line = key.auth_private_line("abc.onion");
        assert!(line.starts_with("abc:descriptor:x25519:"));
        // RFC 7748 test vector: Alice's key pair.
        let alice = hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap();
        let alice = ClientKey { secret: alice.try_into().unwrap() };
        let public =
            hex::decode("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
                .unwrap();
        assert_eq!(alice.public_base32(), BASE32_NOPAD.encode(&public));
    }
}
