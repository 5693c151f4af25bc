//! [`ScopedKey`]: a scoped key's text, as the Connect flow mints it and the
//! token endpoint hands it out (the format and its verification are in
//! `connect::scoped_keys`).

use super::Secret;

/// A scoped key's text. Shown once; `Debug` prints `[redacted]`; zeroized on
/// drop; compared in constant time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopedKey(pub(crate) Secret);

impl ScopedKey {
    /// The key's text, for the one response that hands it out.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}
