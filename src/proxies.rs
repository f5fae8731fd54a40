//! Which reverse proxies are believed about the client's address: the socket's peer is the
//! client unless it is one of the configured trusted proxies; then the client is the rightmost
//! entry of the proxy's header that is not itself a trusted proxy. Entries further left are
//! whatever the client chose to send, so they are never believed (a client could otherwise give
//! itself a fresh address, and fresh throttle counters, per request).

use std::net::IpAddr;
use std::sync::Arc;

/// One network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { net: addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A set of networks, such as those the staff pages may be reached from (R-SEC-4).
#[derive(Debug, Clone, Default)]
pub struct Networks(Arc<Vec<Cidr>>);

impl Networks {
    /// Parses addresses or CIDR networks; the first malformed one is the error.
    pub fn parse(networks: &[String]) -> Result<Networks, String> {
        networks
            .iter()
            .map(|n| Cidr::parse(n.trim()).ok_or_else(|| format!("not an address or CIDR network: {n}")))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Networks(Arc::new(v)))
    }

    /// Whether the client address `addr` (as [`TrustedProxies::client`] gives it) is in one of
    /// the networks; an address that does not parse is in none.
    pub fn contains(&self, addr: &str) -> bool {
        addr.parse::<IpAddr>().is_ok_and(|ip| self.0.iter().any(|c| c.contains(ip)))
    }
}

/// The reverse proxies whose address header is believed, and that header.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    header: Option<String>,
    networks: Arc<Vec<Cidr>>,
}

impl TrustedProxies {
    /// From `client_ip_header` and `trusted_proxies`; an unparsable network, or a header
    /// without any trusted proxy, is an error for the configuration check.
    pub fn new(header: Option<&str>, networks: &[String]) -> Result<TrustedProxies, String> {
        let parsed = networks
            .iter()
            .map(|n| Cidr::parse(n.trim()).ok_or_else(|| format!("trusted_proxies: {n:?} is not an address or CIDR network")))
            .collect::<Result<Vec<_>, _>>()?;
        if header.is_some() && parsed.is_empty() {
            return Err("client_ip_header needs trusted_proxies: the networks of the proxies that set it".into());
        }
        Ok(TrustedProxies {
            header: header.map(str::to_ascii_lowercase),
            networks: Arc::new(parsed),
        })
    }

    /// The header to read, lower-case, when one is configured.
    pub fn header(&self) -> Option<&str> {
        self.header.as_deref()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client behind `peer`, given the proxy header's value when there is one.
    pub fn client(&self, peer: IpAddr, header: Option<&str>) -> String {
        let peer = peer.to_canonical();
        let (Some(value), true) = (header, self.trusts(peer)) else {
            return peer.to_string();
        };
        let mut nearest = peer;
        for entry in value.rsplit(',').map(str::trim) {
            match entry.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => nearest = ip.to_canonical(),
                Ok(ip) => return ip.to_canonical().to_string(),
                // Not an address: nothing left of it can be believed; the last proxy seen is
                // the best we know.
                Err(_) => break,
            }
        }
        nearest.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(networks: &[&str]) -> TrustedProxies {
        let n: Vec<String> = networks.iter().map(|s| s.to_string()).collect();
        TrustedProxies::new(Some("X-Forwarded-For"), &n).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client_and_what_the_client_wrote_is_ignored() {
        let p = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        // The client wrote "1.1.1.1" itself; the edge proxy appended the address it saw.
        assert_eq!(p.client(ip("10.0.0.5"), Some("1.1.1.1, 203.0.113.9")), "203.0.113.9");
        // Two proxies: the inner one's entry is skipped.
        assert_eq!(p.client(ip("10.0.0.5"), Some("1.1.1.1, 203.0.113.9, 192.0.2.7")), "203.0.113.9");
        // Every entry a proxy: the leftmost proxy is the best we know.
        assert_eq!(p.client(ip("10.0.0.5"), Some("10.1.1.1, 10.2.2.2")), "10.1.1.1");
        // Garbage stops the walk.
        assert_eq!(p.client(ip("10.0.0.5"), Some("203.0.113.9, nonsense, 10.2.2.2")), "10.2.2.2");
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.5"), None), "10.0.0.5");
    }

    #[test]
    fn a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_sends() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client(ip("203.0.113.9"), Some("10.0.0.1, 1.2.3.4")), "203.0.113.9");
        assert_eq!(TrustedProxies::default().client(ip("203.0.113.9"), Some("1.2.3.4")), "203.0.113.9");
    }

    #[test]
    fn networks_parse_strictly_and_match_v4_v6_and_mapped_addresses() {
        let p = proxies(&["2001:db8::/32", "127.0.0.1"]);
        assert_eq!(p.client(ip("2001:db8::1"), Some("2001:db9::5")), "2001:db9::5");
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), Some("198.51.100.2")), "198.51.100.2");
        assert!(TrustedProxies::new(Some("x-forwarded-for"), &["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::new(Some("x-forwarded-for"), &["not-an-ip".into()]).is_err());
        assert!(TrustedProxies::new(Some("x-forwarded-for"), &[]).is_err(), "a header needs proxies");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }
}
