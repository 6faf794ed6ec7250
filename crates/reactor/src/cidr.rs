//! `Cidr`: a block of IP addresses, such as `10.0.0.0/8`, for `TURBINE_PROXY_TRUSTED`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A block of IP addresses: an address and how many of its leading bits a member shares
/// (`10.0.0.0/8`, `::1/128`). Host bits given are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The block's first address (host bits clear).
    addr: IpAddr,
    /// Leading bits that count: at most 32 for IPv4, 128 for IPv6.
    prefix: u8,
}

impl Cidr {
    /// The block of `prefix` leading bits of `addr`; `None` if `prefix` is longer than the
    /// address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let addr = match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask32(prefix)))
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask128(prefix)))
            }
            _ => return None,
        };
        Some(Cidr { addr, prefix })
    }

    /// The loopback blocks, `127.0.0.0/8` and `::1/128`: `TURBINE_PROXY_TRUSTED`'s default.
    pub fn loopback() -> Vec<Cidr> {
        vec![
            Cidr {
                addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            Cidr {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ]
    }

    /// Whether `ip` is in the block. An IPv4 address written as IPv6 (`::ffff:10.1.2.3`, as a
    /// dual-stack socket reports it) counts as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(block), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(block)
            }
            (IpAddr::V6(block), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(block)
            }
            _ => false,
        }
    }
}

/// The IPv4 mask of `prefix` leading ones.
fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The IPv6 mask of `prefix` leading ones.
fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = ();

    /// `ADDR/PREFIX`, or a bare address for the block of that one address.
    fn from_str(text: &str) -> Result<Cidr, ()> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(drop)?;
                let digits = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
                (
                    addr,
                    if digits {
                        prefix.parse().map_err(drop)?
                    } else {
                        return Err(());
                    },
                )
            }
            None => {
                let addr: IpAddr = text.parse().map_err(drop)?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        Cidr::new(addr, prefix).ok_or(())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Blocks read, normalize and match as written, the edges of each block included.
    #[test]
    fn parse_and_contain() {
        let block: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(block.to_string(), "10.0.0.0/8");
        assert!(block.contains(ip("10.255.255.255")));
        assert!(block.contains(ip("::ffff:10.0.0.1")));
        assert!(!block.contains(ip("11.0.0.0")));
        assert!(!block.contains(ip("::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let one: Cidr = "2001:db8::1".parse().unwrap();
        assert_eq!(one.to_string(), "2001:db8::1/128");
        assert!(one.contains(ip("2001:db8::1")));
        assert!(!one.contains(ip("2001:db8::2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(Cidr::loopback().iter().any(|c| c.contains(ip("127.9.9.9"))));
        assert!(Cidr::loopback().iter().any(|c| c.contains(ip("::1"))));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host/8",
            "1.2.3/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }
}
