//! The host's brand on the hosted pages: its name, logo, accent colour
//! (the primary button's) and support link
//! ([`AuthorizationServerBuilder::brand`](crate::AuthorizationServerBuilder::brand)).
//!
//! The accent reaches the page through a CSS variable in a second
//! stylesheet whose hash the page's `style-src` lists; the text on it is
//! white or near-black, whichever contrasts more (WCAG 2.2 contrast ratio),
//! and the logo's origin is the only addition to `img-src`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The host's brand, shown on every hosted page (consent, each Connect
/// step, error pages).
///
/// ```
/// use oauth_connect::http::Brand;
/// let brand = Brand::new("Acme Energy")
///     .logo_url("https://cdn.acme.example/logo.svg")
///     .color("#0f766e")
///     .support_url("https://acme.example/help");
/// assert_eq!(brand.name(), Some("Acme Energy"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    name: Option<String>,
    logo_url: Option<String>,
    color: Option<String>,
    support_url: Option<String>,
}

impl Brand {
    /// A brand with this name (shown beside the logo; the logo's text
    /// alternative).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// The logo: an absolute `https` URL.
    pub fn logo_url(mut self, url: impl Into<String>) -> Self {
        self.logo_url = Some(url.into());
        self
    }

    /// The accent colour, `#rrggbb`: the primary buttons' background.
    pub fn color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }

    /// Where a user finds help (`https`, or `http` on a loopback host):
    /// linked from every page, and the way back of an error page that knows
    /// no application to return to.
    pub fn support_url(mut self, url: impl Into<String>) -> Self {
        self.support_url = Some(url.into());
        self
    }

    /// The brand's name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The logo's URL.
    pub fn logo(&self) -> Option<&str> {
        self.logo_url.as_deref()
    }

    /// The support URL.
    pub fn support(&self) -> Option<&str> {
        self.support_url.as_deref()
    }

    /// The accent colour.
    pub fn accent(&self) -> Option<&str> {
        self.color.as_deref()
    }

    /// The setting that is not acceptable, if any.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.name.as_deref().is_some_and(|n| {
            n.trim().is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control)
        }) {
            return Some("brand name");
        }
        if self
            .logo_url
            .as_deref()
            .is_some_and(|u| crate::hooks::link::logo_origin(u).is_none())
        {
            return Some("brand logo_url (an https URL)");
        }
        if self
            .color
            .as_deref()
            .is_some_and(|c| parse_hex(c).is_none())
        {
            return Some("brand color (#rrggbb)");
        }
        if self
            .support_url
            .as_deref()
            .is_some_and(|u| !is_support_url(u))
        {
            return Some("brand support_url (an https URL)");
        }
        None
    }
}

/// An `https` URL (or `http` on a loopback host, for development) with no
/// user information and no character that could leave an attribute.
fn is_support_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let loopback = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    let scheme_ok = parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback);
    scheme_ok
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && !url.contains(['"', '\'', ' ', '<', '>'])
}

/// `#rrggbb` as its three channels.
fn parse_hex(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// WCAG 2.2 relative luminance of an sRGB colour.
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// WCAG 2.2 contrast ratio of two luminances.
fn contrast(a: f64, b: f64) -> f64 {
    let (light, dark) = if a > b { (a, b) } else { (b, a) };
    (light + 0.05) / (dark + 0.05)
}

/// The near-black text colour offered against a light accent.
const DARK_TEXT: [u8; 3] = [0x11, 0x18, 0x27];

/// The text colour on `accent`: white or near-black, whichever contrasts
/// more.
pub(crate) fn text_on(accent: [u8; 3]) -> &'static str {
    let l = luminance(accent);
    if contrast(l, 1.0) >= contrast(l, luminance(DARK_TEXT)) {
        "#ffffff"
    } else {
        "#111827"
    }
}

/// The default accent.
const DEFAULT_ACCENT: &str = "#1d4ed8";

/// What the pages need of the brand, computed once: the accent stylesheet
/// and its CSP hash, and the logo's origin.
#[derive(Debug, Clone)]
pub(crate) struct Theme {
    pub(crate) css: String,
    pub(crate) hash: String,
    pub(crate) logo_origin: Option<String>,
}

impl Theme {
    pub(crate) fn new(brand: &Brand) -> Self {
        let accent = brand
            .color
            .as_deref()
            .and_then(|c| parse_hex(c).map(|rgb| (c.to_ascii_lowercase(), rgb)))
            .unwrap_or_else(|| (DEFAULT_ACCENT.to_owned(), [0x1d, 0x4e, 0xd8]));
        let css = format!(
            ":root{{--accent:{};--on-accent:{}}}",
            accent.0,
            text_on(accent.1)
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, css.as_bytes());
        Self {
            hash: format!("'sha256-{}'", STANDARD.encode(digest.as_ref())),
            css,
            logo_origin: brand
                .logo_url
                .as_deref()
                .and_then(crate::hooks::link::logo_origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG 2.2 §1.4.3: the text on the accent is the more contrasting of
    /// white and near-black, and at least 4.5:1 for these accents.
    #[test]
    fn text_on_the_accent_is_readable() {
        assert_eq!(text_on([0x1d, 0x4e, 0xd8]), "#ffffff");
        assert_eq!(
            text_on([0xfa, 0xcc, 0x15]),
            "#111827",
            "yellow takes dark text"
        );
        assert_eq!(text_on([0xff, 0xff, 0xff]), "#111827");
        assert_eq!(text_on([0, 0, 0]), "#ffffff");
        for accent in [
            [0x0f, 0x76, 0x6e],
            [0xfa, 0xcc, 0x15],
            [0x7c, 0x3a, 0xed],
            [0xf9, 0x73, 0x16],
        ] {
            let text = if text_on(accent) == "#ffffff" {
                1.0
            } else {
                luminance(DARK_TEXT)
            };
            assert!(contrast(luminance(accent), text) >= 4.5, "{accent:?}");
        }
        assert!((contrast(1.0, 0.0) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn brand_settings_are_checked() {
        assert_eq!(Brand::new("Acme").problem(), None);
        assert_eq!(Brand::new("  ").problem(), Some("brand name"));
        assert!(Brand::new("A").color("#12345").problem().is_some());
        assert!(Brand::new("A").color("red").problem().is_some());
        assert!(Brand::new("A").color("#0f766e").problem().is_none());
        assert!(
            Brand::new("A")
                .logo_url("http://cdn.example/x.svg")
                .problem()
                .is_some()
        );
        assert!(
            Brand::new("A")
                .logo_url("https://cdn.example/x.svg")
                .problem()
                .is_none()
        );
        assert!(
            Brand::new("A")
                .support_url("javascript:alert(1)")
                .problem()
                .is_some()
        );
        assert!(
            Brand::new("A")
                .support_url("http://help.example")
                .problem()
                .is_some()
        );
        assert!(
            Brand::new("A")
                .support_url("http://127.0.0.1:3000/help")
                .problem()
                .is_none()
        );
        let theme = Theme::new(
            &Brand::new("A")
                .color("#FACC15")
                .logo_url("https://cdn.example:8443/l.svg"),
        );
        assert_eq!(theme.css, ":root{--accent:#facc15;--on-accent:#111827}");
        assert!(theme.hash.starts_with("'sha256-"));
        assert_eq!(
            theme.logo_origin.as_deref(),
            Some("https://cdn.example:8443")
        );
    }
}
