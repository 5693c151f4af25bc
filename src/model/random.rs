//! The server's source of randomness, injected like the clock.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Core;
use rand_chacha::rand_core::SeedableRng as _;
use rand_chacha::rand_core::block::BlockRngCore;
use ring::rand::SecureRandom as _;
use zeroize::{Zeroize as _, Zeroizing};

/// The random source failed to produce bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// A cryptographically secure source of random bytes.
///
/// Every credential, identifier and CSRF token the server makes draws from the
/// source in its configuration. The default is [`ChaChaRandom`], ChaCha20 in
/// user space seeded from the operating system; [`SystemRandom`] draws every
/// byte from the operating system's generator through `ring`. A test may substitute its own source;
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

/// ChaCha20 in user space, seeded from the operating system: the default
/// random source.
///
/// Each thread keeps its own generator: a 256-bit key and the part of its
/// last output not handed out yet. A batch runs the ChaCha20 block function
/// (RFC 8439, through `rand_chacha`) four times under the key, replaces the
/// key with the first 32 bytes of the output and keeps the other 224 to hand
/// out, zeroing each byte as it goes ("fast key erasure"): the state left
/// in memory never reveals a byte already handed out. A thread's generator is seeded from [`SystemRandom`] at its first
/// draw and again after 64 KiB of output or 60 seconds, whichever comes
/// first, and whenever the process id has changed since it was seeded: a
/// child of `fork` never repeats its parent's bytes.
///
/// A draw costs no system call but `getpid`, which makes each credential a
/// fraction of a microsecond cheaper than a draw from the operating system
/// (one `getrandom` call per operation). If the thread's generator is
/// unavailable (a draw while the thread is being torn down), the draw
/// goes to [`SystemRandom`] directly.
#[derive(Debug, Default)]
pub struct ChaChaRandom {
    os: SystemRandom,
}

impl ChaChaRandom {
    /// A handle to the calling thread's generator (the generators are
    /// per thread, shared by every `ChaChaRandom`); `os` seeds them.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A thread's generator reseeds after handing out this many bytes.
const RESEED_BYTES: u64 = 64 * 1024;
/// A thread's generator reseeds after running this long.
const RESEED_INTERVAL: Duration = Duration::from_secs(60);
/// Bytes of ChaCha20 output under one key: four 64-byte blocks.
const BATCH: usize = 256;
/// Bytes of the generator's key.
const KEY_LEN: usize = 32;

/// One thread's ChaCha20 generator.
struct ThreadGenerator {
    key: Zeroizing<[u8; KEY_LEN]>,
    /// The output of the last batch not handed out yet: its last
    /// `available` bytes (those before are zeroed).
    buffer: Zeroizing<[u8; BATCH - KEY_LEN]>,
    available: usize,
    /// The process the key was seeded in.
    pid: u32,
    /// Bytes handed out since it was seeded.
    drawn: u64,
    seeded_at: Instant,
}

thread_local! {
    static GENERATOR: RefCell<Option<ThreadGenerator>> = const { RefCell::new(None) };
}

impl ThreadGenerator {
    fn seeded(os: &SystemRandom, pid: u32) -> Result<Self, RandomError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        os.fill(key.as_mut_slice())?;
        Ok(Self::with_key(key, pid))
    }

    fn with_key(key: Zeroizing<[u8; KEY_LEN]>, pid: u32) -> Self {
        Self {
            key,
            buffer: Zeroizing::new([0u8; BATCH - KEY_LEN]),
            available: 0,
            pid,
            drawn: 0,
            seeded_at: Instant::now(),
        }
    }

    /// Whether the generator may keep drawing in process `pid`.
    fn fresh(&self, pid: u32) -> bool {
        self.pid == pid && self.drawn < RESEED_BYTES && self.seeded_at.elapsed() < RESEED_INTERVAL
    }

    /// The next batch: ChaCha20 under the key; its first 32 bytes replace
    /// the key, the rest fill the buffer.
    fn next_batch(&mut self) {
        let mut words = <ChaCha20Core as BlockRngCore>::Results::default();
        ChaCha20Core::from_seed(*self.key).generate(&mut words);
        let (key, buffer) = words.as_ref().split_at(KEY_LEN / 4);
        for (out, word) in self.key.chunks_exact_mut(4).zip(key) {
            out.copy_from_slice(&word.to_le_bytes());
        }
        for (out, word) in self.buffer.chunks_exact_mut(4).zip(buffer) {
            out.copy_from_slice(&word.to_le_bytes());
        }
        words.as_mut().zeroize();
        self.available = self.buffer.len();
    }

    fn fill(&mut self, dest: &mut [u8]) {
        let mut filled = 0;
        while filled < dest.len() {
            if self.available == 0 {
                self.next_batch();
            }
            let n = self.available.min(dest.len() - filled);
            let start = self.buffer.len() - self.available;
            let taken = &mut self.buffer[start..start + n];
            dest[filled..filled + n].copy_from_slice(taken);
            // Handed out: gone from memory.
            taken.zeroize();
            self.available -= n;
            filled += n;
        }
        self.drawn = self.drawn.saturating_add(dest.len() as u64);
    }
}

impl RandomSource for ChaChaRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let drawn = GENERATOR.try_with(|cell| {
            let mut slot = cell.try_borrow_mut().map_err(|_| RandomError)?;
            let pid = std::process::id();
            // Checked and drawn in place: the generator (about 300 bytes)
            // is moved only when it is (re)seeded.
            let generator = match &mut *slot {
                Some(generator) if generator.fresh(pid) => generator,
                stale => stale.insert(ThreadGenerator::seeded(&self.os, pid)?),
            };
            generator.fill(dest);
            Ok(())
        });
        match drawn {
            Ok(result) => result,
            // The thread's storage is gone (the thread is exiting).
            Err(_) => self.os.fill(dest),
        }
    }
}

/// Draws an array of `N` random bytes.
pub(crate) fn random_array<const N: usize>(rng: &dyn RandomSource) -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(key: [u8; KEY_LEN]) -> ThreadGenerator {
        ThreadGenerator::with_key(Zeroizing::new(key), std::process::id())
    }

    /// RFC 8439 Appendix A.1, test vector #1: the ChaCha20 block of the
    /// all-zero key, nonce and counter. Its first 32 bytes become the next
    /// key; the next 32 are the first draw, zeroed in the buffer once
    /// handed out.
    #[test]
    fn a_draw_is_chacha20_output_after_the_next_key() {
        let block: [u8; 64] = [
            0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86,
            0xbd, 0x28, 0xbd, 0xd2, 0x19, 0xb8, 0xa0, 0x8d, 0xed, 0x1a, 0xa8, 0x36, 0xef, 0xcc,
            0x8b, 0x77, 0x0d, 0xc7, 0xda, 0x41, 0x59, 0x7c, 0x51, 0x57, 0x48, 0x8d, 0x77, 0x24,
            0xe0, 0x3f, 0xb8, 0xd8, 0x4a, 0x37, 0x6a, 0x43, 0xb8, 0xf4, 0x15, 0x18, 0xa1, 0x1c,
            0xc3, 0x87, 0xb6, 0x69, 0xb2, 0xee, 0x65, 0x86,
        ];
        let mut g = generator([0; KEY_LEN]);
        let mut out = [0u8; 32];
        g.fill(&mut out);
        assert_eq!(g.key.as_slice(), &block[..32]);
        assert_eq!(out.as_slice(), &block[32..]);
        assert_eq!(g.drawn, 32);
        assert_eq!(g.available, BATCH - KEY_LEN - 32);
        assert!(g.buffer[..32].iter().all(|&b| b == 0));
        assert!(g.buffer[32..].iter().any(|&b| b != 0));
    }

    /// A draw never hands out the key that follows it, nor repeats
    /// itself; one longer than a batch spans several keys.
    #[test]
    fn draws_erase_their_key_and_never_repeat() {
        let mut g = generator([7; KEY_LEN]);
        let mut first = [0u8; 1000];
        g.fill(&mut first);
        let key_after = *g.key;
        assert!(!first.windows(KEY_LEN).any(|w| w == key_after.as_slice()));
        let mut second = [0u8; 1000];
        g.fill(&mut second);
        assert_ne!(first, second);
        assert_ne!(*g.key, key_after);
        assert_eq!(g.drawn, 2000);
        // Different 224-byte batches of one draw differ too.
        assert_ne!(first[..224], first[224..448]);
        // Nothing handed out stays in the buffer.
        let start = g.buffer.len() - g.available;
        assert!(g.buffer[..start].iter().all(|&b| b == 0));
    }

    /// The generator reseeds in a new process (after `fork`), after
    /// 64 KiB and after 60 seconds.
    #[test]
    fn a_generator_is_stale_in_another_process_or_when_used_up() {
        let pid = std::process::id();
        let mut g = generator([1; KEY_LEN]);
        assert!(g.fresh(pid));
        assert!(!g.fresh(pid.wrapping_add(1)));
        g.drawn = RESEED_BYTES;
        assert!(!g.fresh(pid));
        g.drawn = 0;
        g.seeded_at = Instant::now() - RESEED_INTERVAL;
        assert!(!g.fresh(pid));
    }

    #[test]
    fn chacha_random_fills_every_length_with_fresh_bytes() {
        let rng = ChaChaRandom::new();
        let mut seen = std::collections::HashSet::new();
        for len in [0usize, 1, 16, 32, 64, 223, 224, 225, 4096] {
            let mut a = vec![0u8; len];
            rng.fill(&mut a).unwrap();
            if len >= 16 {
                assert!(seen.insert(a.clone()), "a draw repeated");
                assert!(a.iter().any(|&b| b != 0));
            }
        }
        // Past the reseed threshold, still drawing.
        let mut big = vec![0u8; 70 * 1024];
        rng.fill(&mut big).unwrap();
        let mut after = [0u8; 32];
        rng.fill(&mut after).unwrap();
        assert!(after.iter().any(|&b| b != 0));
    }

    /// Threads have generators of their own, seeded separately.
    #[test]
    fn threads_draw_different_bytes() {
        let draw = || {
            let mut out = [0u8; 32];
            ChaChaRandom::new().fill(&mut out).unwrap();
            out
        };
        let here = draw();
        let there = std::thread::spawn(draw).join().unwrap();
        assert_ne!(here, there);
    }
}
