//! [`ScopedKey`]: a scoped key's text, as the Connect flow mints it and the
//! token endpoint hands it out (the format and its verification are in
//! `connect::scoped_keys`).

use std::fmt;

use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// A scoped key's text. Shown once; `Debug` prints `[redacted]`; zeroized on
/// drop; compared in constant time.
#[derive(Clone)]
pub struct ScopedKey(pub(crate) Zeroizing<String>);

impl ScopedKey {
    /// The key's text, for the one response that hands it out.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ScopedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScopedKey([redacted])")
    }
}

impl PartialEq for ScopedKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for ScopedKey {}
