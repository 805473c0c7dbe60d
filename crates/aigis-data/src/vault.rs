//! The vault key: one 256-bit secret from which the keyed operators derive their own keys
//! (HKDF-SHA-256 with a label per use), so one file or env var drives hashing, AES-SIV tokens
//! and FF1 format-preserving encryption, and no two uses share key material.
//!
//! The key's text form is one line, `AIGIS-VAULT-KEY-1:<base64 of 32 bytes>`; [`VaultKey::id`]
//! names a key without revealing it. The key never appears in `Debug` output.

use aes_siv::KeyInit;
use aes_siv::siv::Aes256Siv;
use hmac::Mac;
use zeroize::Zeroizing;

/// Prefix of the key's text form.
const PREFIX: &str = "AIGIS-VAULT-KEY-1:";

/// Why a vault key or a keyed operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key text is not a vault key.
    #[error(
        "not an aigis vault key (expected one line `{PREFIX}<base64 of 32 bytes>`, as written by `aigis data keygen`)"
    )]
    BadKey,
    /// The value is too short or has no characters FF1 can encrypt.
    #[error(
        "FF1 needs a domain of at least 10^6 values: `{kind}` has {count} encryptable characters (radix {radix}); use `tokenize` for it"
    )]
    SmallDomain {
        /// Entity type or column.
        kind: String,
        /// Digits or letters in the value.
        count: usize,
        /// Radix used.
        radix: u32,
    },
}

/// A vault key. Cloning copies the secret into another zeroised buffer.
#[derive(Clone)]
pub struct VaultKey {
    master: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultKey({})", self.id())
    }
}

impl VaultKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut master = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, master.as_mut());
        Self { master }
    }

    /// Builds a key from raw bytes (tests and key import).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            master: Zeroizing::new(bytes),
        }
    }

    /// Parses the text form (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        use base64::Engine;
        let body = text.trim().strip_prefix(PREFIX).ok_or(VaultError::BadKey)?;
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| VaultError::BadKey)?,
        );
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| VaultError::BadKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The text form, newline-terminated.
    pub fn encode(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(format!(
            "{PREFIX}{}\n",
            base64::engine::general_purpose::STANDARD.encode(&self.master[..])
        ))
    }

    fn derive<const N: usize>(&self, label: &str) -> Zeroizing<[u8; N]> {
        let mut out = Zeroizing::new([0u8; N]);
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, self.master.as_ref());
        // N is at most 64 here, far below HKDF-SHA-256's limit of 8160 bytes.
        hk.expand(label.as_bytes(), out.as_mut())
            .unwrap_or_else(|_| unreachable!("HKDF output length {N} is valid"));
        out
    }

    /// A public name for the key (16 hex digits of a derived value), safe to log.
    pub fn id(&self) -> String {
        let id: Zeroizing<[u8; 8]> = self.derive("aigis vault v1 key id");
        aigis_core::fsutil::hex(id.as_ref())
    }

    /// Keyed hash: HMAC-SHA-256 of the value, 32 hex digits. The same value gives the same hash
    /// in every column and run with the same key, so joins still work; without the key a
    /// low-entropy value (an SSN) cannot be brute-forced from its hash.
    pub fn hash(&self, value: &str) -> String {
        let key: Zeroizing<[u8; 32]> = self.derive("aigis vault v1 hmac-sha256");
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(value.as_bytes());
        aigis_core::fsutil::hex(&mac.finalize().into_bytes()[..16])
    }

    fn siv(&self) -> Aes256Siv {
        let key: Zeroizing<[u8; 64]> = self.derive("aigis vault v1 aes-siv");
        Aes256Siv::new(aes_siv::Key::<Aes256Siv>::from_slice(key.as_ref()))
    }

    /// Deterministic, authenticated token for `value` of type `kind`: `KIND_<base32>`, where the
    /// base32 (lower case, no padding) is AES-SIV (RFC 5297) of the value with the type as
    /// associated data. Equal values give equal tokens (joins work); a token moved to another
    /// type or edited fails to open.
    pub fn tokenize(&self, kind: &str, value: &str) -> String {
        // RFC 5297's deterministic mode: no nonce, the type is the one header (associated data).
        let ct = self
            .siv()
            .encrypt([kind.as_bytes()], value.as_bytes())
            .unwrap_or_else(|_| unreachable!("AES-SIV encryption of a bounded value cannot fail"));
        format!("{kind}_{}", base32(&ct))
    }

    /// Opens the base32 part of a token of type `kind`; `None` if it is not a token of this key.
    pub fn open_token(&self, kind: &str, body: &str) -> Option<String> {
        let ct = unbase32(body)?;
        let pt = self.siv().decrypt([kind.as_bytes()], &ct).ok()?;
        String::from_utf8(pt).ok()
    }

    /// Format-preserving encryption (FF1, NIST SP 800-38G, AES-256) of the digits — or, when the
    /// value has letters, of the ASCII letters and digits (radix 62) — keeping every other
    /// character in place. `tweak` (the entity type or column) separates domains.
    pub fn fpe_encrypt(&self, tweak: &str, value: &str) -> Result<String, VaultError> {
        self.fpe(tweak, value, true)
    }

    /// Reverses [`VaultKey::fpe_encrypt`].
    pub fn fpe_decrypt(&self, tweak: &str, value: &str) -> Result<String, VaultError> {
        self.fpe(tweak, value, false)
    }

    fn fpe(&self, tweak: &str, value: &str, encrypt: bool) -> Result<String, VaultError> {
        const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let letters = value.bytes().any(|b| b.is_ascii_alphabetic());
        let radix: u32 = if letters { 62 } else { 10 };
        let numerals: Vec<u16> = value
            .bytes()
            .filter_map(|b| {
                if b.is_ascii_digit() {
                    Some(u16::from(b - b'0'))
                } else if letters && b.is_ascii_uppercase() {
                    Some(u16::from(b - b'A') + 10)
                } else if letters && b.is_ascii_lowercase() {
                    Some(u16::from(b - b'a') + 36)
                } else {
                    None
                }
            })
            .collect();
        // 10^6 values: 6 decimal digits, 4 base-62 characters.
        let min = if letters { 4 } else { 6 };
        if numerals.len() < min {
            return Err(VaultError::SmallDomain {
                kind: tweak.to_string(),
                count: numerals.len(),
                radix,
            });
        }
        let key: Zeroizing<[u8; 32]> = self.derive("aigis vault v1 ff1");
        let ff1 = fpe::ff1::FF1::<aes::Aes256>::new(key.as_ref(), radix)
            .unwrap_or_else(|_| unreachable!("radix 10 and 62 are valid"));
        let ns = fpe::ff1::FlexibleNumeralString::from(numerals);
        let small = |_| VaultError::SmallDomain {
            kind: tweak.to_string(),
            count: 0,
            radix,
        };
        let out: Vec<u16> = if encrypt {
            ff1.encrypt(tweak.as_bytes(), &ns).map_err(small)?.into()
        } else {
            ff1.decrypt(tweak.as_bytes(), &ns).map_err(small)?.into()
        };
        let mut it = out.into_iter();
        let mut s = String::with_capacity(value.len());
        for c in value.chars() {
            let encryptable = c.is_ascii_digit() || (letters && c.is_ascii_alphabetic());
            match (encryptable, encryptable.then(|| it.next()).flatten()) {
                (true, Some(n)) => s.push(char::from(ALNUM[usize::from(n)])),
                _ => s.push(c),
            }
        }
        Ok(s)
    }
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, no padding.
fn base32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(B32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Inverse of [`base32`]; `None` on a character outside the alphabet or non-zero padding bits.
fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = B32.iter().position(|x| *x == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> VaultKey {
        VaultKey::from_bytes([7; 32])
    }

    #[test]
    fn text_form_round_trips_and_rejects_junk() {
        let k = VaultKey::generate();
        let back = VaultKey::parse(&k.encode()).unwrap();
        assert_eq!(back.id(), k.id());
        assert_ne!(k.id(), key().id());
        for bad in [
            "",
            "AIGIS-VAULT-KEY-1:",
            "AIGIS-VAULT-KEY-1:AAAA",
            "AIGIS-VAULT-KEY-2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(VaultKey::parse(bad).is_err(), "{bad}");
        }
        // Twenty characters of the secret (the test once took two, which the key id could
        // contain by chance): the debug form must not show them.
        let secret = &k.encode()[PREFIX.len()..PREFIX.len() + 20];
        assert!(!format!("{k:?}").contains(secret));
    }

    #[test]
    fn hash_is_keyed_and_stable() {
        assert_eq!(key().hash("536-22-1234"), key().hash("536-22-1234"));
        assert_ne!(key().hash("536-22-1234"), key().hash("536-22-1235"));
        assert_ne!(
            key().hash("536-22-1234"),
            VaultKey::from_bytes([8; 32]).hash("536-22-1234")
        );
        assert_eq!(key().hash("x").len(), 32);
    }

    #[test]
    fn tokens_are_bound_to_type_and_key() {
        let t = key().tokenize("EMAIL_ADDRESS", "bob@example.com");
        assert_eq!(t, key().tokenize("EMAIL_ADDRESS", "bob@example.com"));
        let body = t.strip_prefix("EMAIL_ADDRESS_").unwrap();
        assert!(body.bytes().all(|b| B32.contains(&b)));
        assert_eq!(
            key().open_token("EMAIL_ADDRESS", body).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(key().open_token("PERSON", body), None);
        assert_eq!(
            VaultKey::from_bytes([8; 32]).open_token("EMAIL_ADDRESS", body),
            None
        );
        let mut edited = body.to_string();
        edited.replace_range(3..4, if &body[3..4] == "a" { "b" } else { "a" });
        assert_eq!(key().open_token("EMAIL_ADDRESS", &edited), None);
    }

    #[test]
    fn fpe_keeps_format_and_refuses_small_domains() {
        let k = key();
        let e = k.fpe_encrypt("US_SSN", "536-22-1234").unwrap();
        assert_eq!(e.len(), 11);
        assert_eq!(&e[3..4], "-");
        assert!(e.bytes().filter(|b| *b != b'-').all(|b| b.is_ascii_digit()));
        assert_ne!(e, "536-22-1234");
        assert_eq!(k.fpe_decrypt("US_SSN", &e).unwrap(), "536-22-1234");
        // Another tweak gives another value.
        assert_ne!(k.fpe_encrypt("US_BANK_NUMBER", "536-22-1234").unwrap(), e);
        let a = k.fpe_encrypt("US_PASSPORT", "Xb12-93Kq").unwrap();
        assert_eq!(&a[4..5], "-");
        assert_eq!(k.fpe_decrypt("US_PASSPORT", &a).unwrap(), "Xb12-93Kq");
        let err = k.fpe_encrypt("PIN", "12-34").unwrap_err().to_string();
        assert!(
            err.contains("10^6") && err.contains("4 encryptable"),
            "{err}"
        );
    }

    #[test]
    fn base32_rejects_non_canonical() {
        assert_eq!(base32(b"f"), "my");
        assert_eq!(unbase32("my").unwrap(), b"f");
        assert_eq!(unbase32("mz"), None, "non-zero padding bits");
        assert_eq!(unbase32("M1"), None);
    }

    proptest! {
        #[test]
        fn token_round_trip(kind in "[A-Z]{1,8}(_[A-Z]{1,8})?", value in "\\PC{0,40}") {
            let t = key().tokenize(&kind, &value);
            let body = &t[kind.len() + 1..];
            prop_assert_eq!(key().open_token(&kind, body), Some(value));
        }

        #[test]
        fn fpe_round_trip(value in "[0-9 -]{0,6}[0-9]{6,20}[a-zA-Z0-9.-]{0,8}") {
            let e = key().fpe_encrypt("T", &value).unwrap();
            prop_assert_eq!(e.len(), value.len());
            prop_assert_eq!(key().fpe_decrypt("T", &e).unwrap(), value);
        }

        #[test]
        fn base32_round_trip(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(unbase32(&base32(&data)), Some(data));
        }
    }
}
