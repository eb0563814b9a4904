//! Which base URLs a provider connection may point at. A deployed gateway must not become a way to
//! reach loopback, private-network or cloud-metadata addresses, so those (and plain `http://`) are
//! refused unless the operator allows private upstreams (`ALLOW_PRIVATE_UPSTREAMS=true`, meant for
//! local model servers and tests). Names are checked as written; the edge cannot resolve DNS first.

use crate::error::{GatewayError, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Validates and normalises (no trailing slash) a base URL.
pub fn validate_base_url(url: &str, allow_private: bool) -> Result<String> {
    let bad =
        |why: &str| GatewayError::invalid_request(format!("Invalid base_url `{url}`: {why}.")).with_param("base_url");
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("it must start with https://"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(bad("only http and https are supported"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("it has no host"));
    }
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not allowed; use the api_key field"));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("it must not contain a query or fragment"));
    }
    let host = host_of(authority).ok_or_else(|| bad("its host is malformed"))?;
    if !allow_private {
        if scheme == "http" {
            return Err(bad("plain http is only allowed for private upstreams (ALLOW_PRIVATE_UPSTREAMS)"));
        }
        if is_private_host(&host) {
            return Err(bad(
                "loopback and private-network hosts are refused (set ALLOW_PRIVATE_UPSTREAMS=true for local use)",
            ));
        }
    }
    Ok(format!("{scheme}://{}", rest.trim_end_matches('/')))
}

/// The host part of `host[:port]` or `[v6]:port`, lower-cased; `None` if malformed.
fn host_of(authority: &str) -> Option<String> {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return None;
        }
        h
    } else {
        match authority.split_once(':') {
            Some((h, port)) if valid_port(port) => h,
            Some(_) => return None,
            None => authority,
        }
    };
    let ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    ok.then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|n| n <= 65535)
}

fn is_private_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return is_private_ip(ip);
    }
    // Decimal/hex/octal IPv4 spellings (`2130706433`, `0x7f.1`) that fetch would accept: refuse them all.
    if host.split('.').all(|p| !p.is_empty() && (p.bytes().all(|b| b.is_ascii_digit()) || p.starts_with("0x"))) {
        return true;
    }
    host == "localhost"
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"].iter().any(|s| host.ends_with(s))
        || !host.contains('.')
}

fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_v4(v4);
            }
            let s = v6.segments()[0];
            v6 == Ipv6Addr::LOCALHOST || v6.is_unspecified() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

fn is_private_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT 100.64/10
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_public_https_and_normalises() {
        assert_eq!(validate_base_url("https://api.example.com/v1/", false).unwrap(), "https://api.example.com/v1");
        assert_eq!(validate_base_url("HTTPS://api.example.com:8443", false).unwrap(), "https://api.example.com:8443");
    }

    #[test]
    fn refuses_private_targets_unless_allowed() {
        for url in [
            "http://api.example.com/v1",
            "https://127.0.0.1/v1",
            "https://localhost:8080",
            "https://10.1.2.3",
            "https://172.16.0.1",
            "https://192.168.1.1",
            "https://169.254.169.254/latest",
            "https://[::1]:9000",
            "https://[fd00::1]",
            "https://[::ffff:127.0.0.1]",
            "https://2130706433",
            "https://0x7f.1",
            "https://metadata.google.internal",
            "https://printer.local",
            "https://intranet",
            "https://100.64.0.1",
        ] {
            assert!(validate_base_url(url, false).is_err(), "{url} should be refused");
        }
        assert_eq!(validate_base_url("http://127.0.0.1:9000/v1", true).unwrap(), "http://127.0.0.1:9000/v1");
    }

    #[test]
    fn refuses_malformed_urls_even_when_private_allowed() {
        for url in [
            "",
            "api.example.com",
            "ftp://x.com",
            "https://",
            "https://u:p@x.com",
            "https://x.com:99999",
            "https://x.com:abc",
            "https://x.com/v1?key=1",
            "https://x com",
            "https://[::1",
        ] {
            assert!(validate_base_url(url, true).is_err(), "{url} should be refused");
        }
    }
}
