//! How the router decides the client IP: gin's `Context.ClientIP` driven by the router options
//! `forwarded_by_client_ip`, `remote_ip_headers`, `trusted_proxies` and `app_engine`.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use serde_json::{Map, Value};

use crate::config::walk::{index, join, Walker};

/// The client-IP rules of the router, read once at start-up. The default is gin's: headers
/// `X-Forwarded-For` then `X-Real-IP` are believed from any peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIpPolicy {
    /// `forwarded_by_client_ip`: read the client IP from `remote_ips` at all.
    pub forwarded: bool,
    /// `remote_ip_headers`: the headers holding forwarded addresses, in order.
    pub remote_ips: Vec<HeaderName>,
    /// `trusted_proxies`: the peers (and forwarded hops) whose headers are believed.
    pub trusted: TrustedProxies,
    /// `app_engine`: a non-empty `X-Appengine-Remote-Addr` is the client IP as sent.
    pub app_engine: bool,
}

/// The proxies gin trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedProxies {
    /// gin's default (`0.0.0.0/0` and `::/0`).
    Everyone,
    /// The configured networks.
    Networks(Vec<Cidr>),
}

/// One IPv4 or IPv6 network; IPv4-mapped IPv6 networks are kept as IPv4 ones, as Go matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

const APP_ENGINE_HEADER: HeaderName = HeaderName::from_static("x-appengine-remote-addr");

impl Default for ClientIpPolicy {
    fn default() -> Self {
        Self {
            forwarded: true,
            remote_ips: vec![
                HeaderName::from_static("x-forwarded-for"),
                HeaderName::from_static("x-real-ip"),
            ],
            trusted: TrustedProxies::Everyone,
            app_engine: false,
        }
    }
}

impl ClientIpPolicy {
    /// The client IP of a request from `peer` (gin's `ClientIP`).
    pub fn client_ip(&self, headers: &HeaderMap, peer: IpAddr) -> String {
        if self.app_engine {
            if let Some(addr) = first_value(headers, &APP_ENGINE_HEADER).filter(|a| !a.is_empty()) {
                return addr.to_string();
            }
        }
        let peer = canonical(peer);
        if self.forwarded && self.trusts(peer) {
            for name in &self.remote_ips {
                if let Some(ip) = first_value(headers, name).and_then(|v| self.walk(v)) {
                    return ip.to_string();
                }
            }
        }
        ip_string(peer)
    }

    /// gin's `validateHeader`: the hops from the right, skipping trusted proxies; the leftmost
    /// hop when all are trusted; nothing when a hop is not an IP address.
    fn walk<'a>(&self, value: &'a str) -> Option<&'a str> {
        if value.is_empty() {
            return None;
        }
        let hops: Vec<&str> = value.split(',').map(str::trim).collect();
        for (i, hop) in hops.iter().enumerate().rev() {
            let ip: IpAddr = hop.parse().ok()?;
            if i == 0 || !self.trusts(canonical(ip)) {
                return Some(hop);
            }
        }
        None
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        match &self.trusted {
            TrustedProxies::Everyone => true,
            TrustedProxies::Networks(nets) => nets.iter().any(|n| n.contains(ip)),
        }
    }
}

impl Cidr {
    /// Go's `net.ParseCIDR`, or a bare address as a `/32` or `/128` (gin's trusted proxies).
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((addr, bits)) = s.split_once('/') else {
            let ip: IpAddr = s
                .parse()
                .map_err(|_| format!("{s:?} is not an IP address or CIDR"))?;
            let ip = canonical(ip);
            return Ok(Self {
                network: ip,
                prefix: width(ip),
            });
        };
        let bad = || format!("{s:?} is not a valid CIDR");
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = bits.parse().map_err(|_| bad())?;
        if prefix > width(ip) {
            return Err(bad());
        }
        let (ip, prefix) = match ip {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (ip, prefix),
            },
            _ => (ip, prefix),
        };
        Ok(Self {
            network: mask(ip, prefix),
            prefix,
        })
    }

    /// Whether `ip` (already canonical) is inside; the families never mix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.network
            }
            _ => false,
        }
    }
}

/// Reads the client-IP keys of the router namespace object at `path`.
pub fn parse(v: &Map<String, Value>, path: &str, w: &mut Walker) -> ClientIpPolicy {
    let d = ClientIpPolicy::default();
    let remote_ips = match w.strings(v, "remote_ip_headers", path) {
        // Names that are no header name can never match a request header.
        Some(names) if !names.is_empty() => names
            .iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect(),
        _ => d.remote_ips,
    };
    let proxies_path = join(path, "trusted_proxies");
    let trusted = match w.strings(v, "trusted_proxies", path) {
        Some(entries) if !entries.is_empty() => {
            let mut nets = Vec::with_capacity(entries.len());
            for (i, entry) in entries.iter().enumerate() {
                match Cidr::parse(entry) {
                    Ok(n) => nets.push(n),
                    Err(e) => w.fail(index(&proxies_path, i), e),
                }
            }
            TrustedProxies::Networks(nets)
        }
        _ => d.trusted,
    };
    ClientIpPolicy {
        forwarded: w
            .boolean(v, "forwarded_by_client_ip", path)
            .unwrap_or(d.forwarded),
        remote_ips,
        trusted,
        app_engine: w.boolean(v, "app_engine", path).unwrap_or(false),
    }
}

/// The first value of `name` as text (the forwarded headers are custom names, which a
/// lookup hashes byte by byte; a small request's names are scanned instead).
fn first_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    crate::http1::first_value(headers, name).and_then(|v| v.to_str().ok())
}

/// IPv4-mapped IPv6 addresses are IPv4 ones, as Go's `To4` makes them.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn width(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

/// An address in its usual text form; IPv4 (the common peer) without the formatting machinery.
fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(itoa::Buffer::new().format(octet));
            }
            out
        }
        IpAddr::V6(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_is_the_one_a_lookup_gives_in_small_and_large_maps() {
        use crate::http1::SCAN_UP_TO;
        let xff = HeaderName::from_static("x-forwarded-for");
        for others in [0, 3, SCAN_UP_TO, SCAN_UP_TO + 5] {
            let mut headers = HeaderMap::new();
            for i in 0..others {
                headers.append(
                    HeaderName::from_bytes(format!("x-other-{i}").as_bytes()).unwrap(),
                    "o".parse().unwrap(),
                );
            }
            assert_eq!(first_value(&headers, &xff), None);
            headers.append(xff.clone(), "10.0.0.1, 10.0.0.2".parse().unwrap());
            headers.append(http::header::HOST, "h".parse().unwrap());
            headers.append(xff.clone(), "10.0.0.3".parse().unwrap());
            let expected = headers.get(&xff).map(|v| v.to_str().unwrap());
            assert_eq!(expected, Some("10.0.0.1, 10.0.0.2"));
            assert_eq!(
                first_value(&headers, &xff),
                expected,
                "{others} other names"
            );
        }
    }

    #[test]
    fn addresses_print_in_their_usual_form() {
        for text in [
            "0.0.0.0",
            "10.0.255.1",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            assert_eq!(ip_string(text.parse().unwrap()), text);
        }
    }

    fn policy(json: &str) -> (ClientIpPolicy, Vec<String>) {
        let v: Value = serde_json::from_str(json).unwrap();
        let mut w = Walker::default();
        let p = parse(v.as_object().unwrap(), "extra_config.router", &mut w);
        (p, w.problems.iter().map(|p| p.to_string()).collect())
    }

    use crate::proxy::testing::header_map as headers;

    /// (case, router options, peer, request headers, gin's ClientIP).
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

    const CASES: &[Case] = &[
        ("default: no header", "{}", "10.0.0.1", &[], "10.0.0.1"),
        (
            "default: leftmost of a valid chain",
            "{}",
            "10.0.0.1",
            &[("x-forwarded-for", "1.2.3.4, 5.6.7.8")],
            "1.2.3.4",
        ),
        (
            "default: an invalid hop voids the header",
            "{}",
            "10.0.0.1",
            &[("x-forwarded-for", "junk, 5.6.7.8")],
            "10.0.0.1",
        ),
        (
            "default: X-Real-IP after a void X-Forwarded-For",
            "{}",
            "10.0.0.1",
            &[("x-forwarded-for", "junk"), ("x-real-ip", "9.9.9.9")],
            "9.9.9.9",
        ),
        (
            "default: the first X-Forwarded-For line only",
            "{}",
            "10.0.0.1",
            &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "2.2.2.2"),
            ],
            "1.1.1.1",
        ),
        (
            "default: empty header ignored",
            "{}",
            "10.0.0.1",
            &[("x-forwarded-for", ""), ("x-real-ip", "9.9.9.9")],
            "9.9.9.9",
        ),
        (
            "default: hop returned as written",
            "{}",
            "10.0.0.1",
            &[("x-forwarded-for", " 2001:DB8::1 ")],
            "2001:DB8::1",
        ),
        (
            "default: IPv4-mapped peer shown as IPv4",
            "{}",
            "::ffff:10.1.2.3",
            &[],
            "10.1.2.3",
        ),
        (
            "untrusted peer: headers ignored",
            r#"{"trusted_proxies":["10.0.0.0/8"]}"#,
            "127.0.0.1",
            &[("x-forwarded-for", "6.6.6.6"), ("x-real-ip", "7.7.7.7")],
            "127.0.0.1",
        ),
        (
            "trusted peer: first untrusted hop from the right",
            r#"{"trusted_proxies":["10.0.0.0/8"]}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.9.9.9")],
            "1.2.3.4",
        ),
        (
            "trusted peer: every hop trusted gives the leftmost",
            r#"{"trusted_proxies":["10.0.0.0/8"]}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "10.1.1.1, 10.2.2.2")],
            "10.1.1.1",
        ),
        (
            "trusted peer: an invalid hop left of the answer does not matter",
            r#"{"trusted_proxies":["10.0.0.0/8"]}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "junk, 1.2.3.4")],
            "1.2.3.4",
        ),
        (
            "trusted peer: an invalid hop before an answer voids the header",
            r#"{"trusted_proxies":["10.0.0.0/8"]}"#,
            "10.0.0.1",
            &[
                ("x-forwarded-for", "1.2.3.4, junk, 10.2.2.2"),
                ("x-real-ip", "8.8.8.8"),
            ],
            "8.8.8.8",
        ),
        (
            "bare address trusted as /32",
            r#"{"trusted_proxies":["127.0.0.1"]}"#,
            "127.0.0.1",
            &[("x-forwarded-for", "5.5.5.5")],
            "5.5.5.5",
        ),
        (
            "bare address trusts no neighbour",
            r#"{"trusted_proxies":["127.0.0.2"]}"#,
            "127.0.0.1",
            &[("x-forwarded-for", "5.5.5.5")],
            "127.0.0.1",
        ),
        (
            "IPv4-mapped peer matches an IPv4 network",
            r#"{"trusted_proxies":["10.0.0.0/8"]}"#,
            "::ffff:10.0.0.1",
            &[("x-forwarded-for", "5.5.5.5")],
            "5.5.5.5",
        ),
        (
            "IPv6 network",
            r#"{"trusted_proxies":["fd00::/8"]}"#,
            "fd12::1",
            &[("x-forwarded-for", "2001:db8::7, fd00::2")],
            "2001:db8::7",
        ),
        (
            "IPv6 network does not trust IPv4",
            r#"{"trusted_proxies":["::/0"]}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "5.5.5.5")],
            "10.0.0.1",
        ),
        (
            "forwarded_by_client_ip false: the peer",
            r#"{"forwarded_by_client_ip":false}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "1.2.3.4")],
            "10.0.0.1",
        ),
        (
            "custom remote_ip_headers replace the defaults",
            r#"{"remote_ip_headers":["cf-connecting-ip"]}"#,
            "10.0.0.1",
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("cf-connecting-ip", "4.4.4.4"),
            ],
            "4.4.4.4",
        ),
        (
            "custom remote_ip_headers: the defaults are no longer read",
            r#"{"remote_ip_headers":["X-Client-IP"]}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "1.2.3.4")],
            "10.0.0.1",
        ),
        (
            "empty remote_ip_headers keeps the defaults",
            r#"{"remote_ip_headers":[]}"#,
            "10.0.0.1",
            &[("x-forwarded-for", "1.2.3.4")],
            "1.2.3.4",
        ),
        (
            "app_engine header wins, as sent",
            r#"{"app_engine":true,"trusted_proxies":["10.0.0.0/8"]}"#,
            "127.0.0.1",
            &[
                ("x-appengine-remote-addr", "not-an-ip"),
                ("x-forwarded-for", "1.2.3.4"),
            ],
            "not-an-ip",
        ),
        (
            "app_engine header ignored without the option",
            "{}",
            "127.0.0.1",
            &[("x-appengine-remote-addr", "3.3.3.3")],
            "127.0.0.1",
        ),
        (
            "app_engine without its header falls through",
            r#"{"app_engine":true}"#,
            "127.0.0.1",
            &[("x-forwarded-for", "1.2.3.4")],
            "1.2.3.4",
        ),
    ];

    #[test]
    fn gin_client_ip_table() {
        for (case, options, peer, request, want) in CASES {
            let (p, problems) = policy(options);
            assert!(problems.is_empty(), "{case}: {problems:?}");
            let got = p.client_ip(&headers(request), peer.parse().unwrap());
            assert_eq!(&got, want, "{case}");
        }
    }

    #[test]
    fn absent_keys_are_gin_defaults() {
        assert_eq!(policy("{}").0, ClientIpPolicy::default());
        assert_eq!(
            policy(r#"{"trusted_proxies":[],"remote_ip_headers":null}"#).0,
            ClientIpPolicy::default()
        );
    }

    #[test]
    fn cidr_parsing_follows_go() {
        for ok in [
            "10.0.0.0/8",
            "10.1.2.3/8",
            "0.0.0.0/0",
            "1.2.3.4",
            "::1",
            "fd00::/8",
            "::/0",
            "::ffff:10.0.0.0/104",
            "10.0.0.0/08",
        ] {
            assert!(Cidr::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0/8",
            "localhost",
            " 10.0.0.1",
            "fe80::1%eth0",
            "10.0.0.0/8/8",
            "01.2.3.4",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?}");
        }
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.contains("10.200.0.1".parse().unwrap()));
        assert!(!mapped.contains("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_entries_are_located() {
        let (_, problems) = policy(
            r#"{"trusted_proxies":["10.0.0.0/8","10.0.0.0/99","nope"],"remote_ip_headers":"x",
                "forwarded_by_client_ip":"yes","app_engine":1}"#,
        );
        let paths: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "extra_config.router.remote_ip_headers",
                "extra_config.router.trusted_proxies[1]",
                "extra_config.router.trusted_proxies[2]",
                "extra_config.router.forwarded_by_client_ip",
                "extra_config.router.app_engine",
            ],
            "{problems:?}"
        );
        assert!(problems[1].contains("\"10.0.0.0/99\""), "{problems:?}");
    }
}
