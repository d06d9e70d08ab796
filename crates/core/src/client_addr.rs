//! Which address a request came from, for per-address rate limits, sign-in limits and the
//! sessions list. Spin says who connected (`spin-client-addr`); behind a reverse proxy or a
//! Kubernetes ingress that is the proxy, for every client. With `trusted_proxies` set, a
//! request from a trusted proxy is taken to come from the address the proxies appended to
//! `X-Forwarded-For`: the rightmost entry that is not itself a trusted proxy (entries left
//! of it are whatever the client sent, so they are never believed).

use ipnet::IpNet;
use std::net::IpAddr;

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of addresses (`10.0.0.7`, `::1`) and ranges (`10.0.0.0/8`);
    /// empty trusts none. `Err` names the entry that is neither.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The client's address: `peer` (Spin's `spin-client-addr`, `ip:port` or `[ip]:port`), or,
/// when the peer is a trusted proxy, the rightmost untrusted entry of `forwarded_for` (the
/// `X-Forwarded-For` header values in order). An entry that is not an address ends the walk
/// at the last proxy passed. `None` without a peer.
pub fn client_addr<'a>(
    peer: Option<&str>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> Option<String> {
    let peer = peer?;
    let peer_ip = match peer.rsplit_once(':') {
        // `ip:port`, `[v6]:port`; a bare v6 address has colons but no brackets.
        Some((ip, _)) if ip.starts_with('[') || !ip.contains(':') => ip.trim_matches(['[', ']']),
        _ => peer,
    };
    let Ok(mut nearest) = peer_ip.parse::<IpAddr>() else {
        return Some(peer_ip.to_string());
    };
    if !trusted.trusts(nearest) {
        return Some(canonical(nearest).to_string());
    }
    let entries: Vec<&str> = forwarded_for
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut hops = entries.into_iter().rev();
    // Walk right to left from the peer while each hop is a trusted proxy.
    while trusted.trusts(nearest) {
        let Some(entry) = hops.next() else { break };
        match entry.parse::<IpAddr>() {
            Ok(ip) => nearest = ip,
            Err(_) => break,
        }
    }
    Some(canonical(nearest).to_string())
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as a dual-stack listener reports IPv4 peers) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_client_is_the_rightmost_address_no_trusted_proxy_added() {
        let proxies = trusted("10.0.0.0/8, 192.168.1.5");
        let table: [(&str, &[&str], &str); 10] = [
            // No X-Forwarded-For: the proxy itself.
            ("10.1.2.3:5000", &[], "10.1.2.3"),
            // One proxy.
            ("10.1.2.3:5000", &["203.0.113.9"], "203.0.113.9"),
            // A client's own forged entries stay to the left and are not believed.
            ("10.1.2.3:5000", &["1.1.1.1, 203.0.113.9"], "203.0.113.9"),
            // Two proxies, one header or two.
            (
                "10.1.2.3:5000",
                &["203.0.113.9, 192.168.1.5"],
                "203.0.113.9",
            ),
            (
                "10.1.2.3:5000",
                &["203.0.113.9", "192.168.1.5"],
                "203.0.113.9",
            ),
            // Garbage where the client's address should be: the last proxy passed.
            ("10.1.2.3:5000", &["not-an-address"], "10.1.2.3"),
            (
                "10.1.2.3:5000",
                &["1.1.1.1, junk, 192.168.1.5"],
                "192.168.1.5",
            ),
            // A peer that is not a trusted proxy: its header is the client's own and ignored.
            ("198.51.100.7:443", &["1.1.1.1"], "198.51.100.7"),
            // IPv6 peers, bracketed, and IPv4 seen through a dual-stack listener.
            ("[2001:db8::1]:443", &["1.1.1.1"], "2001:db8::1"),
            ("[::ffff:10.0.0.1]:80", &["203.0.113.9"], "203.0.113.9"),
        ];
        for (peer, forwarded, expected) in table {
            let got = client_addr(Some(peer), forwarded.iter().copied(), &proxies);
            assert_eq!(got.as_deref(), Some(expected), "{peer} {forwarded:?}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_never_believed() {
        let none = TrustedProxies::default();
        let got = client_addr(Some("127.0.0.1:5000"), ["6.6.6.6"].into_iter(), &none);
        assert_eq!(got.as_deref(), Some("127.0.0.1"));
        assert_eq!(client_addr(None, ["6.6.6.6"].into_iter(), &none), None);
    }

    #[test]
    fn trusted_proxies_must_be_addresses_or_ranges() {
        assert_eq!(TrustedProxies::parse(" ").map(|t| t.0.len()), Ok(0));
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8, ::1, 127.0.0.1").map(|t| t.0.len()),
            Ok(3)
        );
        for bad in ["10.0.0.0/33", "localhost", "10.0.0.1:80", "*"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }
}
