//! Who sent a request: the socket's peer address, which a framework adapter
//! hands to [`AuthorizationServer::handle`] as a [`PeerAddress`] in the
//! request's extensions, and, behind proxies the host trusts, the client
//! they name in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! The limits on what a stranger can spend (the publishable keys' session
//! budget, failed authentications, public clients' pushed requests) are
//! kept per client address, so one client cannot spend another's share.
//!
//! # Security
//!
//! A forwarding header is believed only when the socket's peer is a
//! trusted proxy ([`trusted_proxies`]), and only as far as the chain of
//! trusted proxies goes: the header is read from the right (the nearest
//! hop) and the first address that is not a trusted proxy is the client.
//! Everything to its left was written by that client and is ignored. An
//! entry that is not an address (`unknown`, an obfuscated name) ends the
//! walk: the request counts as from the trusted hop that reported it. A
//! request carrying both headers that name different clients counts as
//! from the peer itself (a client can add the header its proxies do not
//! write, so disagreement means one of them is forged).
//!
//! [`trusted_proxies`]: crate::AuthorizationServerBuilder::trusted_proxies

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// The most forwarding entries looked at, from the right.
const MAX_HOPS: usize = 32;

/// The address of the peer at the other end of a request's connection, as
/// the listening socket saw it.
///
/// A framework adapter inserts it into the `http::Request`'s extensions
/// before calling [`AuthorizationServer::handle`] (axum: `ConnectInfo`;
/// actix-web: `HttpRequest::peer_addr`). Without it, every request counts
/// as from one unknown client: the limits still hold, but they are shared
/// by everyone, so one abuser can spend the budget of all (see
/// [`AuthorizationServer::client_address`]).
///
/// ```
/// use std::net::SocketAddr;
/// use oauth_connect::http::PeerAddress;
///
/// let peer: SocketAddr = "203.0.113.7:51234".parse()?;
/// let mut request = http::Request::new(bytes::Bytes::new());
/// request.extensions_mut().insert(PeerAddress::from(peer));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddress(IpAddr);

impl PeerAddress {
    /// The peer `ip`; an IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports it) is kept as the IPv4 address.
    pub fn new(ip: IpAddr) -> Self {
        Self(ip.to_canonical())
    }

    /// The peer's IP address.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

impl From<IpAddr> for PeerAddress {
    fn from(ip: IpAddr) -> Self {
        Self::new(ip)
    }
}

impl From<SocketAddr> for PeerAddress {
    fn from(address: SocketAddr) -> Self {
        Self::new(address.ip())
    }
}

/// Parses the trusted proxies of the configuration: CIDR blocks
/// (`10.0.0.0/8`, `2001:db8::/32`) or single addresses; `None` for any
/// entry that is neither.
pub(crate) fn parse_proxies(entries: &[String]) -> Option<Vec<IpNet>> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                return Some(net.trunc());
            }
            entry.parse::<IpAddr>().ok().map(IpNet::from)
        })
        .collect()
}

/// The client a request came from: the peer, or, when the peer is a
/// trusted proxy, the client its forwarding headers name (see the module
/// docs for the rules).
pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers.contains_key(http::header::FORWARDED).then(|| {
        let hops = forwarded_hops(headers);
        walk(peer, &hops, is_trusted)
    });
    let x_forwarded = headers.contains_key("x-forwarded-for").then(|| {
        let hops = x_forwarded_hops(headers);
        walk(peer, &hops, is_trusted)
    });
    match (forwarded, x_forwarded) {
        (Some(a), Some(b)) if a != b => peer,
        (Some(client), _) | (None, Some(client)) => client,
        (None, None) => peer,
    }
}

/// From the nearest hop leftwards: the first address that is not a trusted
/// proxy; the trusted hop before an entry that is not an address; or the
/// leftmost hop when every one is trusted.
fn walk(peer: IpAddr, hops: &[Option<IpAddr>], is_trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    let mut client = peer;
    for hop in hops.iter().rev().take(MAX_HOPS) {
        match hop {
            Some(ip) => {
                client = *ip;
                if !is_trusted(client) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// The values of every `name` header line, in order.
fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        // A line that is not visible ASCII names no address we can use.
        .map(|value| value.to_str().unwrap_or("unknown"))
}

/// The `for=` node of each element of every `Forwarded` line, in order
/// (RFC 7239 §4); `None` for an element without one or whose node is not
/// an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for line in header_values(headers, "forwarded") {
        for element in split_unquoted(line, ',') {
            let node = split_unquoted(element, ';').into_iter().find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| unquote(value.trim()))
            });
            hops.push(node.as_deref().and_then(parse_node));
        }
    }
    hops
}

/// The entries of every `X-Forwarded-For` line, in order.
fn x_forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    header_values(headers, "x-forwarded-for")
        .flat_map(|line| line.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// `text` split at every `separator` outside a quoted string.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A `value` (token or quoted-string, RFC 7230 §3.2.6) as its text.
fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut text = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if escaped || c != '\\' {
                    text.push(c);
                    escaped = false;
                } else {
                    escaped = true;
                }
            }
            text
        }
        None => value.to_owned(),
    }
}

/// An address, with or without a port: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`. `None` for anything
/// else (`unknown`, an obfuscated `_name`).
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(address) = node.parse::<SocketAddr>() {
        return Some(address.ip().to_canonical());
    }
    let inner = node.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

/// The part of an address a limit counts: the whole IPv4 address, or the
/// /64 network of an IPv6 one (a single host commonly holds a whole /64);
/// one shared value for a request without an address.
pub(crate) fn limit_key(address: Option<IpAddr>) -> Vec<u8> {
    match address {
        Some(IpAddr::V4(ip)) => {
            let mut key = vec![4];
            key.extend_from_slice(&ip.octets());
            key
        }
        Some(IpAddr::V6(ip)) => {
            let mut key = vec![6];
            key.extend_from_slice(&ip.octets()[..8]);
            key
        }
        None => vec![0],
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// The address of the client that sent `request`, as the limits count
    /// it: the [`PeerAddress`] in its extensions, or, when that peer is one
    /// of the [trusted proxies](crate::AuthorizationServerBuilder::trusted_proxies),
    /// the client named by its `Forwarded` or `X-Forwarded-For` header (see
    /// the rules below). `None` when the adapter put no [`PeerAddress`] in
    /// the request.
    ///
    /// # Security
    ///
    /// A forwarding header is believed only from a trusted proxy, and only
    /// up to the first hop that is not one: the header is read from the
    /// right, and the first address that is not a trusted proxy is the
    /// client (what a client writes to its left is ignored). An entry that
    /// is not an address (`unknown`, an obfuscated name) makes the request
    /// count as from the trusted hop that reported it; both headers present
    /// and naming different clients make it count as from the peer.
    ///
    /// Without a [`PeerAddress`] (an adapter that does not set one) every
    /// request counts as from one unknown client: every limit still holds,
    /// shared by all such requests (safe, but one abuser can then spend the
    /// budget of everyone).
    pub fn client_address<B>(&self, request: &http::Request<B>) -> Option<IpAddr> {
        let peer = request.extensions().get::<PeerAddress>()?.ip();
        Some(resolve(
            peer,
            request.headers(),
            self.config().trusted_proxy_networks(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(entries: &[&str]) -> Vec<IpNet> {
        parse_proxies(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn proxies_are_cidr_blocks_or_addresses() {
        let parsed = nets(&["10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "::1"]);
        assert_eq!(parsed.len(), 4);
        assert!(parsed[0].contains(&ip("10.200.3.4")));
        assert!(parsed[1].contains(&ip("192.0.2.7")));
        assert!(!parsed[1].contains(&ip("192.0.2.8")));
        assert!(parsed[2].contains(&ip("2001:db8:ffff::1")));
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0/8", "*"] {
            assert!(parse_proxies(&[bad.to_owned()]).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let forged = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("forwarded", "for=198.51.100.2"),
        ]);
        assert_eq!(resolve(ip("203.0.113.9"), &forged, &[]), ip("203.0.113.9"));
        // A trusted list that does not hold the peer changes nothing.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("203.0.113.9"), &forged, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_up_to_the_first_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the leftmost entry; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.1.1.1")]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &chain, &trusted),
            ip("198.51.100.7")
        );
        // Two header lines are one list.
        let lines = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7:4711"),
        ]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &lines, &trusted),
            ip("198.51.100.7")
        );
        // Only trusted hops: the leftmost.
        let internal = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(resolve(ip("10.0.0.1"), &internal, &trusted), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        // An entry that is no address ends the walk at the hop before it.
        let garbage = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.1.1.1")]);
        assert_eq!(resolve(ip("10.0.0.1"), &garbage, &trusted), ip("10.1.1.1"));
    }

    #[test]
    fn forwarded_rfc7239_nodes_with_ports_quotes_and_ipv6() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let cases = [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            // A trusted IPv6 hop is walked past.
            (
                "for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\"",
                "192.0.2.43",
            ),
            (
                "for=192.0.2.43, for=\"[2001:db9::17]:4711\"",
                "2001:db9::17",
            ),
            ("For=\"198.51.100.17:80\";proto=https", "198.51.100.17"),
            (
                "for=1.1.1.1, for=198.51.100.3, for=10.0.0.5",
                "198.51.100.3",
            ),
            // RFC 7239 §6.3: obfuscated and unknown nodes end the walk.
            ("for=198.51.100.3, for=_hidden", "10.0.0.1"),
            ("for=unknown", "10.0.0.1"),
            // An element without `for` tells nothing about its sender.
            ("for=198.51.100.3, proto=https", "10.0.0.1"),
            // Quoted separators do not split.
            ("for=198.51.100.3;host=\"a,b;c\"", "198.51.100.3"),
        ];
        for (value, expected) in cases {
            let map = headers(&[("forwarded", value)]);
            assert_eq!(
                resolve(ip("10.0.0.1"), &map, &trusted),
                ip(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn both_headers_must_agree_or_the_peer_counts() {
        let trusted = nets(&["10.0.0.0/8"]);
        let agree = headers(&[
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &agree, &trusted),
            ip("198.51.100.7")
        );
        // The proxy writes X-Forwarded-For; the client added a Forwarded.
        let forged = headers(&[
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &forged, &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4_and_ipv6_counts_by_its_64() {
        assert_eq!(
            PeerAddress::new(ip("::ffff:192.0.2.1")).ip(),
            ip("192.0.2.1")
        );
        assert_eq!(
            limit_key(Some(ip("2001:db8:1:2:aaaa::1"))),
            limit_key(Some(ip("2001:db8:1:2:bbbb::9")))
        );
        assert_ne!(
            limit_key(Some(ip("2001:db8:1:2::1"))),
            limit_key(Some(ip("2001:db8:1:3::1")))
        );
        assert_ne!(
            limit_key(Some(ip("192.0.2.1"))),
            limit_key(Some(ip("192.0.2.2")))
        );
        assert_ne!(limit_key(None), limit_key(Some(ip("0.0.0.0"))));
    }
}
