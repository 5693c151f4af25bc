//! The server's source of randomness, injected like the clock.

use std::fmt;

use ring::rand::SecureRandom as _;

/// The random source failed to produce bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// A cryptographically secure source of random bytes.
///
/// Every credential, identifier and CSRF token the server makes draws from the
/// source in its configuration. The default is [`SystemRandom`], the operating
/// system's generator through `ring`. A test may substitute its own source;
/// anything but a CSPRNG in production makes every credential guessable.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the generator cannot produce bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG, via `ring::rand::SystemRandom`.
#[derive(Debug)]
pub struct SystemRandom(ring::rand::SystemRandom);

impl Default for SystemRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemRandom {
    /// The system generator.
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl RandomSource for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(dest).map_err(|_| RandomError)
    }
}

/// Draws an array of `N` random bytes.
pub(crate) fn random_array<const N: usize>(rng: &dyn RandomSource) -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes)?;
    Ok(bytes)
}
