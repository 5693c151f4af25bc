//! What a slow or silent client may hold, the same on both servers: how
//! long a request head and a request body may take, how long a response
//! may wait for its reader, and how many connections are open at once.
//!
//! | knob | default |
//! |---|---|
//! | `OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS` (1–3600) | 10: a request head (request line and headers) not complete within it, counted from the connection's opening or the end of the previous response, closes the connection without an answer; an idle keep-alive connection closes then too |
//! | `OAUTH_CONNECT_BODY_TIMEOUT_SECONDS` (1–3600) | 30: a request body not complete within it of its head is answered 408 and the connection closes; a response whose reader takes nothing for that long is abandoned and the connection closed |
//! | `OAUTH_CONNECT_MAX_CONNECTIONS` (1–1000000) | 1000 connections open at once, the server's and the demo app's together; more wait in the kernel's queue until one closes |
//!
//! The axum example has hyper time the head ([`hyper`'s
//! `header_read_timeout`](https://docs.rs/hyper/1/hyper/server/conn/http1/struct.Builder.html#method.header_read_timeout))
//! and a semaphore count the connections; actix-web times only the first
//! request's head of a connection, so its example times every head with
//! [`Guarded`]'s [`HeadClock`], and actix-web's workers share the cap.
//! Both adapters read bodies through [`read_body`] and wrap every socket
//! in [`Guarded`] for the stalled reader.

use std::error::Error;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::env_number;

/// The defaults: a head within 10 s, a body within 30 s, 1000 connections.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CONNECTIONS: usize = 1000;

/// What a client may hold: see the module's table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// A request head within this, or the connection closes.
    pub(crate) header_timeout: Duration,
    /// A request body within this of its head (408), and a response's
    /// reader taking something at least this often.
    pub(crate) body_timeout: Duration,
    /// Connections open at once, over every listener of the process.
    pub(crate) max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The `OAUTH_CONNECT_*_TIMEOUT_SECONDS` and `…_MAX_CONNECTIONS`
    /// variables; an error names the variable and its range.
    pub(crate) fn from_env() -> Result<Self, Box<dyn Error>> {
        let defaults = Self::default();
        let seconds = |name: &str, default: Duration| -> Result<Duration, String> {
            Ok(env_number(name, 1..=3600, " seconds")?.map_or(default, Duration::from_secs))
        };
        let max_connections = env_number("OAUTH_CONNECT_MAX_CONNECTIONS", 1..=1_000_000, "")?
            .unwrap_or(defaults.max_connections);
        Ok(Self {
            header_timeout: seconds(
                "OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS",
                defaults.header_timeout,
            )?,
            body_timeout: seconds("OAUTH_CONNECT_BODY_TIMEOUT_SECONDS", defaults.body_timeout)?,
            max_connections,
        })
    }
}

/// Whether the client owes this connection a request head, and since
/// when: shared by a connection's [`Guarded`] socket and the service that
/// sees its requests begin and end (the actix-web example's).
#[derive(Debug)]
pub(crate) struct HeadClock {
    opened: Instant,
    /// Milliseconds from `opened` to when the client began to owe a head;
    /// [`IN_REQUEST`] while a request is being answered.
    owed_from: AtomicU64,
}

const IN_REQUEST: u64 = u64::MAX;

impl HeadClock {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            owed_from: AtomicU64::new(0),
        }
    }

    /// A request's head arrived: no head is owed until it is answered.
    #[allow(dead_code)] // the actix adapter's
    pub(crate) fn request_started(&self) {
        self.owed_from.store(IN_REQUEST, Ordering::Relaxed);
    }

    /// The request is answered: the next head is owed from now.
    #[allow(dead_code)] // the actix adapter's
    pub(crate) fn request_finished(&self) {
        let since = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(IN_REQUEST - 1);
        self.owed_from.store(since, Ordering::Relaxed);
    }

    fn owed_since(&self) -> Option<Instant> {
        match self.owed_from.load(Ordering::Relaxed) {
            IN_REQUEST => None,
            ms => Some(self.opened + Duration::from_millis(ms)),
        }
    }
}

/// A connection's socket with the deadlines the frameworks lack: a write
/// the client does not take for the body timeout fails (both examples),
/// and, with a [`HeadClock`], a read waiting for a head owed for longer
/// than the header timeout fails (the actix-web example). The framework
/// then drops the connection.
#[derive(Debug)]
pub(crate) struct Guarded<T> {
    io: T,
    limits: Limits,
    head: Option<Arc<HeadClock>>,
    /// When the socket last took response bytes: a head is owed from the
    /// end of the response, not from when it was ready.
    last_write: Instant,
    read_timer: Option<Pin<Box<Sleep>>>,
    /// Armed while writes are refused, at the first refusal plus the body
    /// timeout.
    write_timer: Option<Pin<Box<Sleep>>>,
    write_stalled: bool,
}

impl<T> Guarded<T> {
    /// `io` guarded by `limits`; with `time_heads`, its request heads are
    /// timed through [`Self::head_clock`].
    pub(crate) fn new(io: T, limits: Limits, time_heads: bool) -> Self {
        Self {
            io,
            limits,
            head: time_heads.then(|| Arc::new(HeadClock::new())),
            last_write: Instant::now(),
            read_timer: None,
            write_timer: None,
            write_stalled: false,
        }
    }

    /// The clock the request service marks (when heads are timed).
    #[allow(dead_code)] // the actix adapter's
    pub(crate) fn head_clock(&self) -> Option<Arc<HeadClock>> {
        self.head.clone()
    }

    /// When the head owed (if any) is late.
    fn head_deadline(&self) -> Option<Instant> {
        let since = self.head.as_ref()?.owed_since()?;
        Some(since.max(self.last_write) + self.limits.header_timeout)
    }

    /// `Pending` from a write: the stall's deadline armed (once), and an
    /// error once it has passed.
    fn write_refused<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let deadline = tokio::time::Instant::now() + self.limits.body_timeout;
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.write_stalled {
            self.write_stalled = true;
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no response bytes within the body timeout",
            )));
        }
        Poll::Pending
    }

    /// A write took `result`: the stall is over, and the bytes taken
    /// move the next head's deadline.
    fn written(&mut self, result: io::Result<usize>) -> Poll<io::Result<usize>> {
        self.write_stalled = false;
        if matches!(result, Ok(n) if n > 0) {
            self.last_write = Instant::now();
        }
        Poll::Ready(result)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // What has arrived is read, however late: a head is late only
        // when the socket has nothing more of it.
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.head_late(cx),
        }
    }
}

impl<T> Guarded<T> {
    /// The socket has nothing to read: `Pending`, or an error when the
    /// head owed is late (the timer wakes the reader then).
    fn head_late(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(deadline) = self.head_deadline() else {
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = self
            .read_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete request head within the header timeout",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(result) => this.written(result),
            Poll::Pending => this.write_refused(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => this.written(result),
            Poll::Pending => this.write_refused(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(result) => {
                this.write_stalled = false;
                Poll::Ready(result)
            }
            Poll::Pending => this.write_refused(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
