//! Cross-site request forgery. A session cookie is `SameSite=Strict`, so browsers do not send it
//! with requests started by another site; as a second, independent line, a mutation authenticated
//! by the cookie must also show that it comes from the gateway's own origin: `Sec-Fetch-Site:
//! same-origin`, or else an `Origin` equal to the gateway's. Browsers send at least one of them with
//! every `fetch` that is not a GET, and a page cannot forge either. Bearer-authenticated requests
//! carry no ambient credential and are not checked.

use crate::error::{ErrorKind, GatewayError, Result};

/// Whether `method` changes something (everything but GET, HEAD and OPTIONS).
pub fn is_mutation(method: &str) -> bool {
    !matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD" | "OPTIONS")
}

/// Checks a cookie-authenticated request to the gateway at `own_origin` (`https://host[:port]`).
pub fn check(method: &str, own_origin: &str, origin: Option<&str>, sec_fetch_site: Option<&str>) -> Result<()> {
    if !is_mutation(method) {
        return Ok(());
    }
    let same_site = match (sec_fetch_site.map(str::trim), origin.map(str::trim)) {
        (Some(site), _) => site.eq_ignore_ascii_case("same-origin"),
        (None, Some(o)) => o.eq_ignore_ascii_case(own_origin),
        (None, None) => false,
    };
    if same_site {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorKind::PermissionDenied,
        "Cross-site request refused: a change made with the session cookie must come from the dashboard's own \
         origin (scripts use `Authorization: Bearer <ADMIN_SECRET>`).",
    )
    .with_code("csrf_refused"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "https://gw.example.com";

    #[test]
    fn reads_pass_and_mutations_need_the_own_origin() {
        assert!(check("GET", OWN, Some("https://evil.example"), Some("cross-site")).is_ok());
        assert!(check("POST", OWN, Some(OWN), None).is_ok());
        assert!(check("DELETE", OWN, None, Some("same-origin")).is_ok());
        assert!(check("PATCH", OWN, Some(OWN), Some("same-origin")).is_ok());
        for (origin, site) in [
            (Some("https://evil.example"), None),
            (Some("https://gw.example.com.evil.example"), None),
            (Some("null"), None),
            (Some(OWN), Some("same-site")),
            (Some(OWN), Some("cross-site")),
            (None, Some("none")),
            (None, None),
        ] {
            let e = check("POST", OWN, origin, site).unwrap_err();
            assert_eq!((e.status, e.code.as_deref()), (403, Some("csrf_refused")), "{origin:?} {site:?}");
        }
    }

    #[test]
    fn only_reads_are_safe() {
        for m in ["GET", "head", "OPTIONS"] {
            assert!(!is_mutation(m), "{m}");
        }
        for m in ["POST", "PUT", "PATCH", "DELETE", "post"] {
            assert!(is_mutation(m), "{m}");
        }
    }
}
