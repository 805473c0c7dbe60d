//! `SECRET_PRIVATE_KEY`: PEM private key blocks (RSA, EC, DSA, OpenSSH, encrypted PKCS#8, PGP)
//! with their end marker, at most 16 KiB.
use super::{lazy_regex, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_regex!(
    RE,
    r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----[A-Za-z0-9+/=[ \t\r\n]:,\-]+?-----END ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
);

/// PEM private keys.
pub struct PrivateKey;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "private_key",
    entities: &["SECRET_PRIVATE_KEY"],
    summary: "PEM BEGIN/END private key block",
};

impl Recognizer for PrivateKey {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        &["-----BEGIN"]
    }
    fn min_len(&self) -> usize {
        40
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.has(b'-') && f.len >= 40
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        if !text.contains("-----BEGIN") {
            return;
        }
        for c in super::captures(&RE, text) {
            if let (Some(m), Some(b), Some(e)) = (c.get(0), c.get(1), c.get(2))
                && b.as_str() == e.as_str()
                && m.as_str().len() <= 16 << 10
            {
                push(out, "SECRET_PRIVATE_KEY", m.start(), m.end(), 1.0, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn pem() {
        let k = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oPzg7nEt1gQeoAoGCCqGSM49\n-----END EC PRIVATE KEY-----";
        assert_eq!(found("SECRET_PRIVATE_KEY", &format!("x\n{k}\ny")), [k]);
        assert!(
            found(
                "SECRET_PRIVATE_KEY",
                "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"
            )
            .is_empty()
        );
    }
}
