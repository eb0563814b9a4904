//! IP allow and block lists: CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) or single addresses,
//! IPv4 and IPv6. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) counts as its IPv4 address, so a
//! v4 range matches a client however its address is written.

use std::net::IpAddr;

/// One range: a network address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: u128,
    bits: u8,
    v4: bool,
}

impl Cidr {
    /// `addr` or `addr/prefix`. The address is masked to its prefix (`10.1.2.3/8` is `10.0.0.0/8`).
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let (value, v4) = canonical(addr.parse::<IpAddr>().ok()?);
        let max = if v4 { 32 } else { 128 };
        let bits = match prefix {
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && p.len() <= 3 => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        if bits > max {
            return None;
        }
        Some(Cidr { net: value & mask(bits, v4), bits, v4 })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (value, v4) = canonical(ip);
        v4 == self.v4 && value & mask(self.bits, v4) == self.net
    }
}

/// The address as a number and whether it is IPv4 (mapped IPv6 addresses are).
fn canonical(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, true),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (u32::from(v4) as u128, true),
            None => (u128::from(a), false),
        },
    }
}

fn mask(bits: u8, v4: bool) -> u128 {
    let width: u8 = if v4 { 32 } else { 128 };
    if bits == 0 {
        return 0;
    }
    let ones = u128::MAX >> (128 - width);
    let host = u32::from(width - bits);
    ((ones >> host) << host) & ones
}

/// Whether `ip` may pass: not in `block`, and in `allow` unless `allow` is empty. Entries that do
/// not parse were refused when the lists were set, so they are skipped here.
pub fn admits(allow: &[String], block: &[String], ip: Option<IpAddr>) -> bool {
    let matches = |list: &[String], ip: IpAddr| list.iter().filter_map(|c| Cidr::parse(c)).any(|c| c.contains(ip));
    match ip {
        Some(ip) => !matches(block, ip) && (allow.is_empty() || matches(allow, ip)),
        // No client address (not behind Cloudflare): only an open list admits it.
        None => allow.is_empty(),
    }
}

/// The 403 for an address a list refuses; `whose` names the lists ("the tenant's", "the management").
pub fn refused(whose: &str) -> crate::error::GatewayError {
    crate::error::GatewayError::new(
        crate::error::ErrorKind::PermissionDenied,
        format!("This client address may not use {whose} (its IP allow or block list)."),
    )
    .with_code("ip_not_allowed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_single_addresses_of_both_families() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "a mapped v4 address is its v4 address");
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains(ip("2001:db8:1::9")));
        assert!(!c.contains(ip("2001:db9::1")));
        assert!(!c.contains(ip("10.0.0.1")));
        let one = Cidr::parse("203.0.113.7").unwrap();
        assert!(one.contains(ip("203.0.113.7")) && !one.contains(ip("203.0.113.8")));
        assert_eq!(Cidr::parse("10.9.9.9/8"), Cidr::parse("10.0.0.0/8"), "masked to its prefix");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in
            ["", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "x", "10.0.0.0/8/1"]
        {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn block_wins_and_an_allow_list_closes_everything_else() {
        let allow = vec!["10.0.0.0/8".to_string()];
        let block = vec!["10.6.6.0/24".to_string()];
        assert!(admits(&allow, &block, Some(ip("10.1.1.1"))));
        assert!(!admits(&allow, &block, Some(ip("10.6.6.6"))));
        assert!(!admits(&allow, &block, Some(ip("192.0.2.1"))));
        assert!(admits(&[], &block, Some(ip("192.0.2.1"))));
        assert!(!admits(&allow, &[], None), "an allow list refuses a request with no address");
        assert!(admits(&[], &[], None));
    }

    proptest! {
        #[test]
        fn a_range_holds_exactly_the_addresses_sharing_its_prefix(a in any::<u32>(), b in any::<u32>(), bits in 0u8..=32) {
            let c = Cidr::parse(&format!("{}/{bits}", Ipv4Addr::from(a))).unwrap();
            let same = bits == 0 || (a >> (32 - bits as u32)) == (b >> (32 - bits as u32));
            prop_assert_eq!(c.contains(IpAddr::V4(Ipv4Addr::from(b))), same);
        }

        #[test]
        fn v6_ranges_too(a in any::<u128>(), b in any::<u128>(), bits in 0u8..=128) {
            let (va, vb) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            prop_assume!(va.to_ipv4_mapped().is_none() && vb.to_ipv4_mapped().is_none());
            let c = Cidr::parse(&format!("{va}/{bits}")).unwrap();
            let same = bits == 0 || (a >> (128 - bits as u32)) == (b >> (128 - bits as u32));
            prop_assert_eq!(c.contains(IpAddr::V6(vb)), same);
        }
    }
}
