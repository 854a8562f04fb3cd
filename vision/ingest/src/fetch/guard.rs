//! The network guard: refuses loopback, private, link-local and metadata addresses unless an
//! allowlist entry opens them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::FetchError;

/// Which addresses a [`GuardedFetcher`](crate::GuardedFetcher) may connect to.
///
/// By default every public address is allowed and these are refused: loopback
/// (`127.0.0.0/8`, `::1`), private (`10/8`, `172.16/12`, `192.168/16`, `fc00::/7`), link-local
/// and cloud metadata (`169.254/16`, `fe80::/10`), `0.0.0.0/8`, `::`, carrier-grade NAT
/// (`100.64/10`), multicast and reserved ranges, and IPv6 forms embedding any of those (IPv4-mapped,
/// NAT64, 6to4). Names are resolved first and every resolved address is checked; the
/// connection is then pinned to the checked addresses, so DNS rebinding cannot slip past.
///
/// [`allow`](Self::allow) opens exceptions: a host name (`intranet.example`), a host and port
/// (`localhost:8080`), an address with or without port (`127.0.0.1:8080`, `10.0.0.5`) or a
/// CIDR range (`10.1.0.0/16`).
///
/// ```
/// use argus_ingest::NetworkGuard;
///
/// let guard = NetworkGuard::new().allow("127.0.0.1:8080").unwrap();
/// assert!(guard.check("127.0.0.1", "127.0.0.1:8080".parse().unwrap()).is_ok());
/// assert!(guard.check("127.0.0.1", "127.0.0.1:8081".parse().unwrap()).is_err());
/// assert!(guard.check("example.com", "93.184.215.14:443".parse().unwrap()).is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkGuard {
    allow: Vec<AllowRule>,
}

/// An address the [`NetworkGuard`] refused: the host as written in the URL, the address it is
/// or resolved to, and the blocked range that address is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to connect to `{host}` ({address}): {range} addresses are blocked")]
#[non_exhaustive]
pub struct BlockedAddress {
    /// The host as written in the URL, lowercased and without a trailing dot.
    pub host: String,
    /// The address it is or resolved to (IPv4-mapped IPv6 addresses as IPv4).
    pub address: IpAddr,
    /// Which blocked range the address is in, e.g. `"loopback"`.
    pub range: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowRule {
    Host { name: String, port: Option<u16> },
    Socket(SocketAddr),
    Net { network: IpAddr, prefix: u8 },
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowRule::Host { name, port: None } => write!(f, "{name}"),
            AllowRule::Host {
                name,
                port: Some(port),
            } => write!(f, "{name}:{port}"),
            AllowRule::Socket(address) => write!(f, "{address}"),
            AllowRule::Net { network, prefix } => write!(f, "{network}/{prefix}"),
        }
    }
}

impl NetworkGuard {
    /// The default guard: public addresses only.
    pub fn new() -> Self {
        NetworkGuard::default()
    }

    /// Also allows `entry`: a host name, `host:port`, an IP address, `ip:port` (`[v6]:port`),
    /// or a CIDR range.
    pub fn allow(mut self, entry: &str) -> Result<Self, FetchError> {
        self.allow.push(parse_rule(entry.trim())?);
        Ok(self)
    }

    /// The allowlist entries, as normalized text.
    pub fn allowed(&self) -> Vec<String> {
        self.allow.iter().map(ToString::to_string).collect()
    }

    /// Checks one address `host` (as written in the URL) resolved to.
    pub fn check(&self, host: &str, address: SocketAddr) -> Result<(), BlockedAddress> {
        let ip = address.ip().to_canonical();
        let host = normalize_host(host);
        let allowed = self.allow.iter().any(|rule| match rule {
            AllowRule::Host { name, port } => {
                *name == host && port.is_none_or(|port| port == address.port())
            }
            AllowRule::Socket(socket) => {
                socket.ip().to_canonical() == ip && socket.port() == address.port()
            }
            AllowRule::Net { network, prefix } => in_network(ip, *network, *prefix),
        });
        match blocked_range(ip) {
            Some(range) if !allowed => Err(BlockedAddress {
                host,
                address: ip,
                range,
            }),
            _ => Ok(()),
        }
    }
}

/// The address a URL host is written as, if it is one (`[::1]` included).
pub(crate) fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_rule(entry: &str) -> Result<AllowRule, FetchError> {
    let invalid = |reason: &str| FetchError::InvalidRule {
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    if let Some((network, prefix)) = entry.split_once('/') {
        let network: IpAddr = network
            .parse()
            .map_err(|_| invalid("the range must start with an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|&p| p <= max)
            .ok_or_else(|| invalid("bad prefix length"))?;
        return Ok(AllowRule::Net {
            network: network.to_canonical(),
            prefix,
        });
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Ok(AllowRule::Socket(socket));
    }
    if let Some(ip) = literal_ip(entry) {
        let prefix = if ip.to_canonical().is_ipv4() { 32 } else { 128 };
        return Ok(AllowRule::Net {
            network: ip.to_canonical(),
            prefix,
        });
    }
    let (name, port) = match entry.rsplit_once(':') {
        Some((name, port)) => (
            name,
            Some(port.parse::<u16>().map_err(|_| invalid("bad port"))?),
        ),
        None => (entry, None),
    };
    let name = normalize_host(name);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(invalid(
            "expected a host, host:port, IP, IP:port or CIDR range",
        ));
    }
    Ok(AllowRule::Host { name, port })
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// The blocked range `ip` is in, if any.
pub(crate) fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(ip) => blocked_v4(ip),
        IpAddr::V6(ip) => blocked_v6(ip),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match (a, b) {
        (0, _) => "\"this network\" (0.0.0.0/8)",
        (127, _) => "loopback",
        (10, _) | (192, 168) => "private",
        (172, 16..=31) => "private",
        (169, 254) => "link-local and cloud metadata",
        (100, 64..=127) => "carrier-grade NAT (100.64.0.0/10)",
        (224..=239, _) => "multicast",
        (240..=255, _) => "reserved and broadcast",
        _ => return None,
    })
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    match segments {
        // ::a.b.c.d, the deprecated IPv4-compatible form.
        [0, 0, 0, 0, 0, 0, ..] => Some("IPv4-compatible"),
        // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => blocked_v4(embedded(high, low)),
        // Local-use NAT64 (64:ff9b:1::/48).
        [0x64, 0xff9b, 1, ..] => Some("local-use NAT64"),
        // 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
        [0x2002, high, low, ..] => blocked_v4(embedded(high, low)),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("unique local (private)"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_every_private_range() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(blocked_range(ip).is_some(), "{ip} should be blocked");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(blocked_range(ip), None, "{ip} should be allowed");
        }
    }

    #[test]
    fn allowlist_entries() {
        let socket = |s: &str| s.parse::<SocketAddr>().unwrap();
        let guard = NetworkGuard::new()
            .allow("127.0.0.1:8080")
            .unwrap()
            .allow("10.1.0.0/16")
            .unwrap()
            .allow("Intranet.Example.")
            .unwrap()
            .allow("localhost:9000")
            .unwrap()
            .allow("[::1]:7000")
            .unwrap()
            .allow("192.168.1.5")
            .unwrap();
        assert_eq!(
            guard.allowed(),
            [
                "127.0.0.1:8080",
                "10.1.0.0/16",
                "intranet.example",
                "localhost:9000",
                "[::1]:7000",
                "192.168.1.5/32"
            ]
        );
        assert!(guard.check("127.0.0.1", socket("127.0.0.1:8080")).is_ok());
        assert!(guard.check("127.0.0.1", socket("127.0.0.1:8081")).is_err());
        assert!(guard.check("x", socket("[::ffff:127.0.0.1]:8080")).is_ok());
        assert!(guard.check("10.1.2.3", socket("10.1.2.3:80")).is_ok());
        assert!(guard.check("10.2.0.1", socket("10.2.0.1:80")).is_err());
        assert!(guard
            .check("intranet.example", socket("10.9.9.9:443"))
            .is_ok());
        assert!(guard
            .check("INTRANET.example.", socket("10.9.9.9:443"))
            .is_ok());
        assert!(guard.check("localhost", socket("127.0.0.1:9000")).is_ok());
        assert!(guard.check("localhost", socket("127.0.0.1:9001")).is_err());
        assert!(guard.check("::1", socket("[::1]:7000")).is_ok());
        assert!(guard.check("h", socket("192.168.1.5:1")).is_ok());
        assert!(guard.check("h", socket("192.168.1.6:1")).is_err());

        for bad in [
            "",
            "10.0.0.0/33",
            "nonsense/8",
            "host:port",
            "a b",
            "::1/200",
        ] {
            assert!(NetworkGuard::new().allow(bad).is_err(), "{bad:?}");
        }
        assert!(NetworkGuard::new()
            .allow("0.0.0.0/0")
            .unwrap()
            .check("h", socket("10.0.0.1:1"))
            .is_ok());
    }

    #[test]
    fn blocked_error_names_the_range() {
        let error = NetworkGuard::new()
            .check("metadata.internal", "169.254.169.254:80".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "refused to connect to `metadata.internal` (169.254.169.254): link-local and cloud \
             metadata addresses are blocked"
        );
    }
}
