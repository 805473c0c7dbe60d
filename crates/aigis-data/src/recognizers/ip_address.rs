//! `IP_ADDRESS`: dotted quads with octets 0-255 (no leading zeros) and IPv6 addresses that
//! `std::net` parses.
use super::{lazy_re, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(V4, r"(?-u:\b)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?-u:\b)");
lazy_re!(
    V6,
    r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%[0-9a-z]+)?"
);

/// IP addresses.
pub struct IpAddress;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "ip_address",
    entities: &["IP_ADDRESS"],
    summary: "IPv4 octets, IPv6 parsed",
};

impl Recognizer for IpAddress {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn applies(&self, f: &crate::Features) -> bool {
        (f.dot && f.digits >= 4 && f.longest_numeric >= 7) || f.colon
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for m in V4.find_iter(text) {
            let ok = m.as_str().split('.').all(|o| {
                o.parse::<u16>().is_ok_and(|v| v <= 255) && (o.len() == 1 || !o.starts_with('0'))
            });
            // Not part of a longer dotted run (a version like 1.2.3.4.5).
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let embedded = before == Some('.')
                || (after == Some('.')
                    && text[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit()));
            if ok && !embedded {
                // Unspecified, loopback and broadcast addresses identify nobody (`listen =
                // 0.0.0.0:8080`); they stay below the default threshold.
                let special = m.as_str() == "0.0.0.0"
                    || m.as_str() == "255.255.255.255"
                    || m.as_str().starts_with("127.");
                push(
                    out,
                    "IP_ADDRESS",
                    m.start(),
                    m.end(),
                    if special { 0.2 } else { 0.6 },
                    !special,
                );
            }
        }
        if !text.contains(':') {
            return;
        }
        for m in V6.find_iter(text) {
            let s = m.as_str();
            let addr = s.split('%').next().unwrap_or(s);
            if addr.matches(':').count() >= 2
                && addr.len() >= 3
                && addr.parse::<std::net::Ipv6Addr>().is_ok()
            {
                // `::` or times like 12:30:45 do not parse as useful addresses; require a hex group.
                if addr.chars().filter(char::is_ascii_hexdigit).count() >= 2
                    && !addr.chars().all(|c| c.is_ascii_digit() || c == ':')
                {
                    push(out, "IP_ADDRESS", m.start(), m.end(), 0.6, true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn ips() {
        assert_eq!(
            found(
                "IP_ADDRESS",
                "from 192.168.1.20 and fe80::1ff:fe23:4567:890a%eth0"
            ),
            ["192.168.1.20", "fe80::1ff:fe23:4567:890a%eth0"]
        );
        assert!(found("IP_ADDRESS", "256.1.1.1 01.2.3.4 v1.2.3.4.5 at 12:30:45").is_empty());
    }
}
