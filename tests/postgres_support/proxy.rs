//! A TCP proxy between the code under test and PostgreSQL, which a test
//! can cut (every connection dropped, new ones refused), freeze (nothing
//! gets through, nothing is closed: a network partition) and restore, and
//! which can cut the one connection that prepares a chosen statement.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// Where a trapped statement's connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Before the statement reaches PostgreSQL.
    BeforeStatement,
    /// After PostgreSQL ran and committed it, before any of its answer
    /// reaches the server.
    AfterCommit,
}

/// A TCP proxy to PostgreSQL that the test can cut (every connection
/// dropped, the port closed so new ones are refused) and restore (the same
/// port open again), freeze and thaw, and that can cut the one connection
/// that prepares a chosen statement.
pub struct Proxy {
    /// Where the proxy listens (on 127.0.0.1).
    pub addr: SocketAddr,
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    target: String,
    accept: Mutex<Option<JoinHandle<()>>>,
    connections: Mutex<Vec<AbortHandle>>,
    trap: Mutex<Option<(&'static [u8], Cut)>>,
    sprung: AtomicBool,
    frozen: AtomicBool,
    /// Connections the client ended after a Terminate message (a clean
    /// close), and without one (the socket just dropped).
    terminated: AtomicUsize,
    dropped: AtomicUsize,
}

/// PostgreSQL's Terminate message (protocol §55.7): `X` and its length.
const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// A listener on `addr` that can take the port again at once after a cut.
fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(128).unwrap()
}

impl Proxy {
    pub fn start(target: &str) -> Self {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(ProxyInner {
            target: target.to_owned(),
            accept: Mutex::new(None),
            connections: Mutex::new(Vec::new()),
            trap: Mutex::new(None),
            sprung: AtomicBool::new(false),
            frozen: AtomicBool::new(false),
            terminated: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        });
        ProxyInner::serve(&inner, listener);
        Self { addr, inner }
    }

    /// The database is gone: open connections are closed and new ones
    /// refused (nothing listens on the port). How many were open.
    pub fn cut(&self) -> usize {
        if let Some(accept) = self.inner.accept.lock().unwrap().take() {
            accept.abort();
        }
        let mut open = 0;
        for connection in self.inner.connections.lock().unwrap().drain(..) {
            if !connection.is_finished() {
                open += 1;
            }
            connection.abort();
        }
        open
    }

    /// How many connections their client ended cleanly (a Terminate
    /// message, then the socket closed), and how many it just dropped.
    pub fn client_closes(&self) -> (usize, usize) {
        (
            self.inner.terminated.load(Ordering::SeqCst),
            self.inner.dropped.load(Ordering::SeqCst),
        )
    }

    /// The database is back, at the same address.
    pub fn restore(&self) {
        ProxyInner::serve(&self.inner, listen(self.addr));
    }

    /// A partition: every connection stays open and new ones are
    /// accepted, but no byte gets through either way until [`thaw`](Self::thaw).
    pub fn freeze(&self) {
        self.inner.frozen.store(true, Ordering::SeqCst);
    }

    /// The partition heals: what was held back flows again.
    pub fn thaw(&self) {
        self.inner.frozen.store(false, Ordering::SeqCst);
    }

    /// Cuts, once, the connection on which `statement` is prepared (its
    /// text sent in a Parse message), at `cut`.
    pub fn trap(&self, statement: &'static [u8], cut: Cut) {
        self.inner.sprung.store(false, Ordering::SeqCst);
        *self.inner.trap.lock().unwrap() = Some((statement, cut));
    }

    /// Whether the trap cut a connection.
    pub fn sprung(&self) -> bool {
        self.inner.sprung.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

impl ProxyInner {
    fn serve(this: &Arc<Self>, listener: TcpListener) {
        let inner = Arc::clone(this);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let pipe = tokio::spawn(Arc::clone(&inner).pipe(client));
                inner.connections.lock().unwrap().push(pipe.abort_handle());
            }
        });
        *this.accept.lock().unwrap() = Some(accept);
    }

    /// Returns once the proxy is not frozen.
    async fn thawed(&self) {
        while self.frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Takes the trap if `window` (the client's latest bytes, `chunk`
    /// added) holds its statement.
    fn spring(&self, window: &mut Vec<u8>, chunk: &[u8]) -> Option<Cut> {
        let mut trap = self.trap.lock().unwrap();
        let (statement, cut) = (*trap)?;
        window.extend_from_slice(chunk);
        let found = window.windows(statement.len()).any(|w| w == statement);
        let keep = window.len().saturating_sub(statement.len());
        window.drain(..keep);
        if found {
            *trap = None;
            self.sprung.store(true, Ordering::SeqCst);
            return Some(cut);
        }
        None
    }

    /// Copies bytes both ways (holding them while frozen) until either side
    /// closes, or until the trap says to cut. For [`Cut::AfterCommit`] it follows the server's
    /// messages (a type byte and a length, PostgreSQL protocol §55.7): the
    /// trapped Parse's answer ends with a ReadyForQuery and goes through;
    /// the execution's answer is held back and, at its ReadyForQuery (the
    /// implicit transaction committed at Sync), both sides are closed.
    async fn pipe(self: Arc<Self>, mut client: TcpStream) {
        self.thawed().await;
        let Ok(mut server) = TcpStream::connect(&self.target).await else {
            return;
        };
        let (mut client_rx, mut client_tx) = client.split();
        let (mut server_rx, mut server_tx) = server.split();
        let mut from_client = vec![0u8; 64 * 1024];
        let mut from_server = vec![0u8; 64 * 1024];
        let mut window = Vec::new();
        let mut cut = None;
        let mut held = Vec::new();
        let mut ready = 0;
        // The client's last bytes: a clean close ends with a Terminate.
        let mut tail: Vec<u8> = Vec::new();
        loop {
            tokio::select! {
                read = client_rx.read(&mut from_client) => {
                    let n = match read {
                        Ok(0) | Err(_) => {
                            let counter = if tail == TERMINATE { &self.terminated } else { &self.dropped };
                            counter.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Ok(n) => n,
                    };
                    tail.extend_from_slice(&from_client[..n]);
                    let excess = tail.len().saturating_sub(TERMINATE.len());
                    tail.drain(..excess);
                    self.thawed().await;
                    if cut.is_none() {
                        cut = self.spring(&mut window, &from_client[..n]);
                        if cut == Some(Cut::BeforeStatement) {
                            return;
                        }
                    }
                    if server_tx.write_all(&from_client[..n]).await.is_err() {
                        return;
                    }
                }
                read = server_rx.read(&mut from_server) => {
                    let n = match read { Ok(0) | Err(_) => return, Ok(n) => n };
                    self.thawed().await;
                    if cut != Some(Cut::AfterCommit) {
                        if client_tx.write_all(&from_server[..n]).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    held.extend_from_slice(&from_server[..n]);
                    while held.len() >= 5 {
                        let len = u32::from_be_bytes([held[1], held[2], held[3], held[4]]);
                        let total = 1 + usize::try_from(len).unwrap();
                        if held.len() < total {
                            break;
                        }
                        let message: Vec<u8> = held.drain(..total).collect();
                        if ready == 0 && client_tx.write_all(&message).await.is_err() {
                            return;
                        }
                        if message[0] == b'Z' {
                            ready += 1;
                            if ready == 2 {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}
