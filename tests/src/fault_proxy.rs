//! A fault-injecting TCP proxy for the reliability tests: it listens on 127.0.0.1 and
//! forwards each connection to the upstream server, unless a fault is set. The fault in
//! force when a connection is accepted is the one it gets:
//!
//! - `Latency(d)`: every chunk each way waits `d` first;
//! - `Bandwidth(n)`: at most `n` bytes a second each way;
//! - `Reset`: the connection is accepted and reset at once (RST, as a crashed peer or a
//!   firewall does);
//! - `ResetAfter(n)`: `n` bytes from the client are forwarded, then both sides are reset
//!   (a connection lost in the middle of an exchange);
//! - `BlackHole`: accepted, read and never answered (a dropped route: only a timeout ends it);
//! - `SlowClose`: forwarded, but the close of either side reaches the other 5 s late;
//! - `Throttle`: an HTTP server's throttling: each new connection's request is answered
//!   `429 Too Many Requests` with `Retry-After: 1` (and the connection closed) while the
//!   count [`FaultProxy::throttle`] set lasts; then connections are forwarded.
//!   [`FaultProxy::throttle_with`] answers `503 Service Unavailable` instead (S3's `SlowDown`
//!   status, and what a load balancer in front of a platform says).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward as is.
    None,
    /// Delay every chunk.
    Latency(Duration),
    /// Limit each direction to this many bytes a second.
    Bandwidth(u32),
    /// Reset at once.
    Reset,
    /// Reset after this many bytes from the client.
    ResetAfter(u64),
    /// Never answer.
    BlackHole,
    /// Pass the close on 5 s late.
    SlowClose,
    /// Answer HTTP 429 while the throttle count lasts.
    Throttle,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    accepted: Arc<AtomicU64>,
    /// Throttled answers still to give, and given.
    throttle: Arc<(AtomicU64, AtomicU64)>,
    /// The status throttled requests are answered with (429 or 503).
    status: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `upstream`, forwarding until a fault is set.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("its address");
        let fault = Arc::new(Mutex::new(Fault::None));
        let accepted = Arc::new(AtomicU64::new(0));
        let throttle = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let status = Arc::new(AtomicU64::new(429));
        let (shared, count, throttling) = (Arc::clone(&fault), Arc::clone(&accepted), Arc::clone(&throttle));
        let answered_with = Arc::clone(&status);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut fault = *shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if fault == Fault::Throttle {
                    let left = throttling.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                    if left.is_ok() {
                        throttling.1.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(too_many_requests(client, answered_with.load(Ordering::SeqCst)));
                        continue;
                    }
                    fault = Fault::None;
                }
                tokio::spawn(handle(client, upstream, fault));
            }
        });
        Self { address, fault, accepted, throttle, status, task }
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The fault new connections get.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Answers the next `count` connections' requests with HTTP 429, then forwards again.
    pub fn throttle(&self, count: u64) {
        self.throttle_with(count, 429);
    }

    /// Answers the next `count` connections' requests with `status` (429 or 503) and
    /// `Retry-After: 1`, then forwards again.
    pub fn throttle_with(&self, count: u64, status: u64) {
        self.status.store(status, Ordering::SeqCst);
        self.throttle.0.store(count, Ordering::SeqCst);
        self.throttle.1.store(0, Ordering::SeqCst);
        self.set(Fault::Throttle);
    }

    /// How many 429 answers were given since [`FaultProxy::throttle`].
    pub fn throttled(&self) -> u64 {
        self.throttle.1.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP request (headers, then a body of `Content-Length`) and answers `status`
/// (429, or 503) with `Retry-After: 1`.
async fn too_many_requests(mut client: TcpStream, status: u64) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        match client.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if seen.len() > 64 * 1024 {
            return;
        }
    };
    let headers = String::from_utf8_lossy(&seen[..header_end]).to_ascii_lowercase();
    let length: usize = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while seen.len() < header_end + length {
        match client.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    let reason = if status == 503 { "Service Unavailable" } else { "Too Many Requests" };
    let body = format!("{reason}\n");
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = answer.as_bytes();
    let _ = client.write_all(answer).await;
    let _ = client.shutdown().await;
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reset(stream: TcpStream) {
    // A zero linger makes the close a reset.
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn handle(client: TcpStream, upstream: SocketAddr, fault: Fault) {
    match fault {
        Fault::Reset => reset(client),
        Fault::BlackHole => {
            let mut client = client;
            let mut sink = [0u8; 4096];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        _ => {
            let mut client = client;
            let Ok(mut server) = TcpStream::connect(upstream).await else { return reset(client) };
            let limit = match fault {
                Fault::ResetAfter(n) => Some(n),
                _ => None,
            };
            let cut = {
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let up = pump(&mut client_read, &mut server_write, fault, limit);
                let down = pump(&mut server_read, &mut client_write, fault, None);
                tokio::pin!(up, down);
                tokio::select! {
                    cut = &mut up => {
                        if !cut {
                            (&mut down).await;
                        }
                        cut
                    }
                    _ = &mut down => up.await,
                }
            };
            if cut {
                reset(client);
                reset(server);
            }
        }
    }
}

/// Copies `from` to `to` under `fault` until either side closes; with `limit`, stops after
/// that many bytes and answers true (the connection is to be cut).
async fn pump<R, W>(from: &mut R, to: &mut W, fault: Fault, limit: Option<u64>) -> bool
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buffer = vec![0u8; 16 * 1024];
    let mut sent = 0u64;
    loop {
        let room = match (fault, limit) {
            (Fault::Bandwidth(rate), _) => buffer.len().min(usize::try_from(rate).unwrap_or(1).max(1)),
            (_, Some(limit)) => buffer.len().min(usize::try_from(limit.saturating_sub(sent)).unwrap_or(0)),
            _ => buffer.len(),
        };
        if room == 0 {
            return true;
        }
        let n = match from.read(&mut buffer[..room]).await {
            Ok(0) | Err(_) => {
                if fault == Fault::SlowClose {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                let _ = to.shutdown().await;
                return false;
            }
            Ok(n) => n,
        };
        match fault {
            Fault::Latency(delay) => tokio::time::sleep(delay).await,
            Fault::Bandwidth(rate) => {
                tokio::time::sleep(Duration::from_secs_f64(n as f64 / f64::from(rate.max(1)))).await;
            }
            _ => {}
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return false;
        }
        sent += n as u64;
    }
}
