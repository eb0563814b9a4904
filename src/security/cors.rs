//! Which web origins may call `/v1` from a browser. `/v1` is authenticated by key, not by cookies,
//! so any origin may by default (`*`); an instance that serves only its own web apps lists their
//! origins (`https://app.example.com`, `https://*.example.com`) and other pages are refused before
//! anything runs. The management API is never cross-origin (it answers no CORS headers at all).

/// What a `/v1` request's `Origin` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `Access-Control-Allow-Origin: *` (the list allows any origin).
    Any,
    /// The origin echoed back, with `Vary: Origin`.
    Echo,
    /// Refused: no CORS headers, and a 403.
    Refuse,
}

/// The decision for `origin` under `allowed` (settings `cors_origins`).
pub fn decide(allowed: &[String], origin: &str) -> Decision {
    if allowed.iter().any(|a| a == "*") {
        return Decision::Any;
    }
    let origin = origin.trim().to_ascii_lowercase();
    if allowed.iter().any(|pattern| matches(&pattern.to_ascii_lowercase(), &origin)) {
        Decision::Echo
    } else {
        Decision::Refuse
    }
}

/// `https://*.example.com` matches a subdomain (any depth) on that scheme and port, never the bare
/// domain; anything else matches exactly.
fn matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once("://*.") {
        Some((scheme, rest)) => origin
            .strip_prefix(scheme)
            .and_then(|o| o.strip_prefix("://"))
            .and_then(|host| host.strip_suffix(rest))
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.') && !sub.contains('/')),
        None => pattern == origin,
    }
}

/// Whether `entry` is a valid list entry: `*`, or `scheme://host[:port]` with an optional leading
/// `*.` in the host; no path, no trailing slash.
pub fn valid_entry(entry: &str) -> bool {
    if entry == "*" {
        return true;
    }
    let Some((scheme, host)) = entry.split_once("://") else { return false };
    let scheme_ok = !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let host = host.strip_prefix("*.").unwrap_or(host);
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(']') || n.starts_with('[') => (n, Some(p)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    scheme_ok && port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn star_allows_every_origin() {
        assert_eq!(decide(&list(&["*"]), "https://evil.example"), Decision::Any);
    }

    #[test]
    fn listed_origins_are_echoed_and_others_refused() {
        let l = list(&["https://app.example.com", "https://*.corp.example", "http://localhost:5173"]);
        assert_eq!(decide(&l, "https://app.example.com"), Decision::Echo);
        assert_eq!(decide(&l, "HTTPS://APP.EXAMPLE.COM"), Decision::Echo);
        assert_eq!(decide(&l, "http://localhost:5173"), Decision::Echo);
        assert_eq!(decide(&l, "https://a.b.corp.example"), Decision::Echo);
        for refused in [
            "https://corp.example",
            "http://a.corp.example",
            "https://app.example.com.evil.io",
            "https://evilcorp.example",
            "http://localhost:5174",
            "null",
        ] {
            assert_eq!(decide(&l, refused), Decision::Refuse, "{refused}");
        }
        assert_eq!(decide(&[], "https://app.example.com"), Decision::Refuse);
    }

    #[test]
    fn entries_are_origins_not_urls() {
        for ok in ["*", "https://app.example.com", "http://localhost:8787", "https://*.example.com", "http://[::1]:80"]
        {
            assert!(valid_entry(ok), "{ok}");
        }
        for bad in ["", "example.com", "https://", "https://a.com/", "https://a.com/path", "https://a.com:x", "*.a.com"]
        {
            assert!(!valid_entry(bad), "{bad}");
        }
    }

    proptest! {
        /// A wildcard entry never admits an origin that does not end in its domain.
        #[test]
        fn wildcards_stay_inside_their_domain(sub in "[a-z]{1,8}", other in "[a-z]{1,8}\\.[a-z]{2,4}") {
            let l = list(&["https://*.example.com"]);
            let inside = format!("https://{sub}.example.com");
            prop_assert_eq!(decide(&l, &inside), Decision::Echo);
            prop_assume!(other != "example.com");
            let outside = format!("https://{sub}.{other}");
            prop_assert_eq!(decide(&l, &outside), Decision::Refuse);
        }
    }
}
