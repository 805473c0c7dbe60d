//! Encryption at rest in the `age` v1 format (c2sp.org/age), interoperable with the `age` and
//! `rage` tools: X25519 recipients or a passphrase (scrypt), binary or ASCII armour, streamed in
//! 64 KiB chunks.
//!
//! Decryption is stricter than `age -d`: the caller writes the plaintext to a temporary file and
//! keeps it only when the whole stream authenticated (see [`decrypt`]), so a tampered or
//! truncated file leaves no partial plaintext behind.

use std::io::{BufRead, Read, Write};

use age::secrecy::SecretString;

/// Why encryption or decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// A recipient string is not an age X25519 public key.
    #[error(
        "`{0}` is not an age recipient (expected `age1…`, as printed by `age-keygen -y` or `aigis data keygen --age`)"
    )]
    BadRecipient(String),
    /// The identity file holds no usable identity.
    #[error("identity file: {0}")]
    BadIdentity(String),
    /// No recipient or passphrase given.
    #[error(
        "no recipient: pass --recipient age1… (repeatable), --recipients-file FILE or --passphrase-file FILE"
    )]
    NoRecipient,
    /// The input is not an age file, or no identity opens it, or it was altered.
    #[error("{0}")]
    Decrypt(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Who can open the output.
pub enum Recipients {
    /// X25519 public keys (`age1…`).
    Keys(Vec<age::x25519::Recipient>),
    /// A passphrase (scrypt, work factor 2^18 as in age).
    Passphrase(SecretString),
}

/// Parses `age1…` recipients.
pub fn parse_recipients(list: &[String]) -> Result<Recipients, CryptError> {
    if list.is_empty() {
        return Err(CryptError::NoRecipient);
    }
    list.iter()
        .map(|r| {
            r.trim()
                .parse::<age::x25519::Recipient>()
                .map_err(|_| CryptError::BadRecipient(r.clone()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Recipients::Keys)
}

/// Encrypts `input` to `output`; returns the plaintext bytes read.
pub fn encrypt<R: Read, W: Write>(
    recipients: &Recipients,
    armor: bool,
    mut input: R,
    output: W,
) -> Result<u64, CryptError> {
    let encryptor = match recipients {
        Recipients::Keys(keys) => {
            if keys.is_empty() {
                return Err(CryptError::NoRecipient);
            }
            age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
                .map_err(|e| CryptError::Decrypt(e.to_string()))?
        }
        Recipients::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
    };
    let format = if armor {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let armored = age::armor::ArmoredWriter::wrap_output(output, format)?;
    let mut w = encryptor.wrap_output(armored)?;
    let n = std::io::copy(&mut input, &mut w)?;
    w.finish()?.finish()?;
    Ok(n)
}

/// What opens an age file.
pub enum Identities {
    /// X25519 identities from an identity file (`AGE-SECRET-KEY-1…` lines, `#` comments).
    Keys(Vec<Box<dyn age::Identity + Send + Sync>>),
    /// The passphrase of a passphrase-encrypted file.
    Passphrase(SecretString),
}

/// Reads an identity file as written by `age-keygen` or `aigis data keygen --age`.
pub fn read_identities<R: BufRead>(file: R) -> Result<Identities, CryptError> {
    let f =
        age::IdentityFile::from_buffer(file).map_err(|e| CryptError::BadIdentity(e.to_string()))?;
    let ids = f
        .into_identities()
        .map_err(|e| CryptError::BadIdentity(e.to_string()))?;
    if ids.is_empty() {
        return Err(CryptError::BadIdentity(
            "no AGE-SECRET-KEY-1 line found".into(),
        ));
    }
    Ok(Identities::Keys(ids))
}

/// Decrypts `input` (binary or armoured) into `output`; returns the plaintext bytes written.
/// On `Err`, `output` may hold authenticated chunks of a stream that later failed: the caller
/// must discard it (the CLI writes to an [`aigis_core::fsutil::AtomicFile`] and does not commit).
pub fn decrypt<R: Read, W: Write>(
    identities: &Identities,
    input: R,
    mut output: W,
) -> Result<u64, CryptError> {
    let reader = age::armor::ArmoredReader::new(input);
    let d = age::Decryptor::new(reader).map_err(|e| CryptError::Decrypt(describe(&e)))?;
    let mut stream = match identities {
        Identities::Keys(ids) => {
            if d.is_scrypt() {
                return Err(CryptError::Decrypt(
                    "this file is passphrase-encrypted: use --passphrase-file FILE".into(),
                ));
            }
            d.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        }
        Identities::Passphrase(p) => {
            if !d.is_scrypt() {
                return Err(CryptError::Decrypt(
                    "this file is encrypted to recipients: use --identity FILE".into(),
                ));
            }
            let mut id = age::scrypt::Identity::new(p.clone());
            // Bounds the work a hostile header can demand (age's own default limit).
            id.set_max_work_factor(22);
            d.decrypt(std::iter::once(&id as &dyn age::Identity))
        }
    }
    .map_err(|e| CryptError::Decrypt(describe(&e)))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CryptError::Decrypt(format!(
                    "the encrypted payload does not authenticate after {n} bytes of plaintext ({e}): the file was altered or truncated; no output written"
                )));
            }
        };
        output.write_all(&buf[..k])?;
        n += k as u64;
    }
    output.flush()?;
    Ok(n)
}

fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::NoMatchingKeys => {
            "no identity matches a recipient of this file (wrong key)".into()
        }
        age::DecryptError::DecryptionFailed => "wrong passphrase, or the header was altered".into(),
        age::DecryptError::InvalidHeader => "not an age v1 file (invalid header)".into(),
        age::DecryptError::InvalidMac => "header MAC does not verify: the file was altered".into(),
        age::DecryptError::Io(io) => {
            format!("not an age v1 file, or its header is cut short ({io})")
        }
        other => other.to_string(),
    }
}

/// A new X25519 identity in `age-keygen`'s file format, and its public key.
pub fn new_identity() -> (zeroize::Zeroizing<String>, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = zeroize::Zeroizing::new(format!(
        "# created by aigis\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    ));
    (text, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Identities, Recipients) {
        let (text, public) = new_identity();
        (
            read_identities(text.as_bytes()).unwrap(),
            parse_recipients(&[public]).unwrap(),
        )
    }

    #[test]
    fn round_trip_binary_and_armored_across_chunks() {
        let (ids, rcpt) = pair();
        // More than two 64 KiB chunks, not a multiple of the chunk size.
        let data: Vec<u8> = (0..200_003u32).map(|i| (i * 31 % 251) as u8).collect();
        for armor in [false, true] {
            let mut ct = Vec::new();
            encrypt(&rcpt, armor, data.as_slice(), &mut ct).unwrap();
            if armor {
                assert!(ct.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
            } else {
                assert!(ct.starts_with(b"age-encryption.org/v1\n"));
            }
            let mut pt = Vec::new();
            assert_eq!(decrypt(&ids, ct.as_slice(), &mut pt).unwrap(), 200_003);
            assert_eq!(pt, data);
        }
    }

    #[test]
    fn tampering_truncation_and_wrong_keys_fail() {
        let (ids, rcpt) = pair();
        let data = vec![7u8; 150_000];
        let mut ct = Vec::new();
        encrypt(&rcpt, false, data.as_slice(), &mut ct).unwrap();
        // A flipped byte in the last chunk: earlier chunks authenticate, the error still comes.
        let mut bad = ct.clone();
        let at = bad.len() - 10;
        bad[at] ^= 1;
        let err = decrypt(&ids, bad.as_slice(), std::io::sink())
            .unwrap_err()
            .to_string();
        assert!(err.contains("altered or truncated"), "{err}");
        let err = decrypt(&ids, &ct[..ct.len() - 1], std::io::sink())
            .unwrap_err()
            .to_string();
        assert!(err.contains("altered or truncated"), "{err}");
        // A flipped header byte.
        let mut bad = ct.clone();
        bad[40] ^= 1;
        assert!(decrypt(&ids, bad.as_slice(), std::io::sink()).is_err());
        let (other, _) = pair();
        let err = decrypt(&other, ct.as_slice(), std::io::sink())
            .unwrap_err()
            .to_string();
        assert!(err.contains("wrong key"), "{err}");
        let err = decrypt(&ids, &b"hello world, not age"[..], std::io::sink())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an age"), "{err}");
        assert!(decrypt(&ids, &b""[..], std::io::sink()).is_err());
    }

    #[test]
    fn passphrase_mode_and_mode_mismatch() {
        let p = Recipients::Passphrase(SecretString::from("correct horse".to_string()));
        let mut ct = Vec::new();
        encrypt(&p, true, &b"secret rows"[..], &mut ct).unwrap();
        let mut pt = Vec::new();
        let good = Identities::Passphrase(SecretString::from("correct horse".to_string()));
        decrypt(&good, ct.as_slice(), &mut pt).unwrap();
        assert_eq!(pt, b"secret rows");
        let wrong = Identities::Passphrase(SecretString::from("battery".to_string()));
        assert!(decrypt(&wrong, ct.as_slice(), std::io::sink()).is_err());
        let (ids, _) = pair();
        let err = decrypt(&ids, ct.as_slice(), std::io::sink())
            .unwrap_err()
            .to_string();
        assert!(err.contains("passphrase"), "{err}");
    }

    #[test]
    fn bad_recipients_and_identity_files_are_named() {
        let err = parse_recipients(&["age1nope".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("age1nope"), "{err}");
        assert!(matches!(
            parse_recipients(&[]),
            Err(CryptError::NoRecipient)
        ));
        assert!(read_identities(&b"# only a comment\n"[..]).is_err());
        assert!(read_identities(&b"AGE-SECRET-KEY-1NOTAKEY\n"[..]).is_err());
    }
}
