//! Session tokens and their cookie. A token is `v1.<id>.<expires_ms>.<mac>`: 32 random bytes of id
//! and an expiry, signed with HMAC-SHA256 under a key derived from `MASTER_KEY`. The signature lets a
//! forged or expired token be refused without storage; the stored session (found by a keyed hash
//! of the id, so storage never holds a usable token) is what logout and password changes delete.

use crate::security::{bytes_equal, hmac_sha256, to_hex};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

/// How long a session lasts from sign-in (absolute; signing in again starts a new one).
pub const LIFETIME_MS: i64 = 12 * 3_600_000;
const VERSION: &str = "v1";

/// A token whose signature and expiry checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaim {
    pub id: String,
    pub expires_at: i64,
}

fn signature(key: &[u8; 32], id: &str, expires_at: i64) -> [u8; 32] {
    hmac_sha256(key, format!("{VERSION}.{id}.{expires_at}").as_bytes())
}

/// A new token for a session of id `random` that ends at `expires_at`.
pub fn issue(key: &[u8; 32], random: &[u8; 32], expires_at: i64) -> String {
    let id = URL_SAFE_NO_PAD.encode(random);
    let mac = URL_SAFE_NO_PAD.encode(signature(key, &id, expires_at));
    format!("{VERSION}.{id}.{expires_at}.{mac}")
}

/// The claim of a token signed under `key` and not expired at `now_ms`; `None` for anything else.
pub fn verify(key: &[u8; 32], token: &str, now_ms: i64) -> Option<SessionClaim> {
    let mut parts = token.split('.');
    let (Some(VERSION), Some(id), Some(expires), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let expires_at: i64 = expires.parse().ok()?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    if !bytes_equal(&mac, &signature(key, id, expires_at)) || expires_at <= now_ms {
        return None;
    }
    Some(SessionClaim { id: id.to_string(), expires_at })
}

/// The key a session is stored under: a keyed hash of its id, so a copy of storage holds no token.
pub fn stored_id(key: &[u8; 32], claim_id: &str) -> String {
    to_hex(&hmac_sha256(key, format!("session-id/{claim_id}").as_bytes()))
}

/// Whether cookies may be marked `Secure`: always, except on plain http to this machine itself
/// (`npm start` at http://127.0.0.1:8787), where some browsers drop a `Secure` cookie.
pub fn secure_transport(scheme: &str, host: &str) -> bool {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !(scheme == "http" && loopback)
}

/// The cookie's name: with the `__Host-` prefix on https (the browser then accepts it only from
/// this host, `Secure`, `Path=/`, so no sibling subdomain can plant one).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-oe_session"
    } else {
        "oe_session"
    }
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(token: &str, max_age_ms: i64, secure: bool) -> String {
    let secure_attr = if secure { "; Secure" } else { "" };
    let max_age = (max_age_ms / 1000).max(0);
    format!("{}={token}; HttpOnly{secure_attr}; SameSite=Strict; Path=/; Max-Age={max_age}", cookie_name(secure))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// The session cookie's value in a `Cookie` header.
pub fn read_cookie(header: &str, secure: bool) -> Option<&str> {
    let name = cookie_name(secure);
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [3; 32];

    #[test]
    fn a_token_verifies_until_it_expires() {
        let t = issue(&KEY, &[1; 32], 5_000);
        let claim = verify(&KEY, &t, 4_999).unwrap();
        assert_eq!(claim.expires_at, 5_000);
        assert_eq!(claim.id, URL_SAFE_NO_PAD.encode([1u8; 32]));
        assert_eq!(verify(&KEY, &t, 5_000), None);
        assert_eq!(verify(&[4; 32], &t, 0), None, "another key");
        assert_ne!(issue(&KEY, &[2; 32], 5_000), t);
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let t = issue(&KEY, &[1; 32], 5_000);
        let parts: Vec<&str> = t.split('.').collect();
        let longer = t.replace(".5000.", ".9999999999999.");
        let other_id = format!("v1.{}.5000.{}", URL_SAFE_NO_PAD.encode([2u8; 32]), parts[3]);
        for bad in [
            longer,
            other_id,
            t.replacen("v1.", "v2.", 1),
            format!("{t}.x"),
            t[..t.len() - 2].to_string(),
            String::new(),
        ] {
            assert_eq!(verify(&KEY, &bad, 0), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_changed_character_breaks_the_token(pos in 0usize..200, c in proptest::char::range('-', 'z')) {
            let t = issue(&KEY, &[7; 32], 1 << 40);
            let pos = pos % t.len();
            let mut changed: Vec<char> = t.chars().collect();
            proptest::prop_assume!(changed[pos] != c);
            changed[pos] = c;
            let changed: String = changed.into_iter().collect();
            proptest::prop_assert_eq!(verify(&KEY, &changed, 0), None);
        }
    }

    #[test]
    fn stored_ids_are_keyed_hashes() {
        assert_eq!(stored_id(&KEY, "abc").len(), 64);
        assert_ne!(stored_id(&KEY, "abc"), stored_id(&[4; 32], "abc"));
        assert!(!stored_id(&KEY, "abc").contains("abc"));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_off_loopback() {
        let c = set_cookie("tok", 3_600_000, true);
        assert_eq!(c, "__Host-oe_session=tok; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=3600");
        assert_eq!(set_cookie("tok", 1_000, false), "oe_session=tok; HttpOnly; SameSite=Strict; Path=/; Max-Age=1");
        assert!(clear_cookie(true).ends_with("Max-Age=0"));
        assert!(secure_transport("https", "gw.example.com"));
        assert!(secure_transport("https", "127.0.0.1"));
        assert!(secure_transport("http", "gw.example.com"));
        assert!(!secure_transport("http", "127.0.0.1"));
        assert!(!secure_transport("http", "localhost"));
        assert!(!secure_transport("http", "[::1]"));
        assert!(!secure_transport("http", "127.0.0.2"));
        // A name that merely starts like a loopback address is another host.
        assert!(secure_transport("http", "127.0.0.1.example.com"));
    }

    #[test]
    fn reads_its_cookie_among_others() {
        let h = "a=1; __Host-oe_session=v1.x.1.y ; oe_session=plain";
        assert_eq!(read_cookie(h, true), Some("v1.x.1.y"));
        assert_eq!(read_cookie(h, false), Some("plain"));
        assert_eq!(read_cookie("a=1", true), None);
        assert_eq!(read_cookie("__Host-oe_session=", true), None);
        assert_eq!(read_cookie("x__Host-oe_session=1", true), None);
    }
}
