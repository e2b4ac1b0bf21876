//! Serving the router on a TCP listener with the limits a server on a network needs, which
//! `axum::serve` does not set: a deadline for a request's headers (counted from when the
//! connection opens or the previous answer was sent, so it is also the idle keep-alive
//! timeout), a deadline for the whole request, and a cap on open connections, past which a
//! new connection is answered 503 and closed. A connection that opens and sends nothing, or
//! sends one header line and stops (slowloris), is closed at the header deadline and costs a
//! slot only until then.
//!
//! hyper answers a request it cannot parse (bad header, bad Content-Length, headers too
//! large, URI too long) itself, with an empty body. [`ErrorBodies`] gives those answers the
//! error body every other error has (the API reference §1).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use warden_model::ErrorCode;

use crate::error::ErrorBody;

/// The most an HTTP/1 connection buffers, in either direction.
pub const MAX_CONNECTION_BUFFER: usize = 128 * 1024;

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers, counted from when the
    /// connection opens or the previous answer was sent (so it also closes idle keep-alive
    /// connections).
    pub header_read_timeout: Duration,
    /// How long a request may take from its headers to its answer (body upload included).
    pub request_timeout: Duration,
    /// How many connections are open at once at most.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for open connections to finish.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish
/// (at most [`ServeOptions::drain_timeout`]).
///
/// Each HTTP/1 connection buffers at most [`MAX_CONNECTION_BUFFER`] bytes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A connection buffers at most 128 KiB of an answer (hyper's default is about 400 KiB),
    // so 64 clients reading a long list hold about 10 MiB, not tens; it also caps a request's
    // head at 128 KiB (431 above; a URI over hyper's 65,534 bytes still fits, so it is a 414).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(MAX_CONNECTION_BUFFER);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(options.header_read_timeout));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let app = app.layer(axum::middleware::from_fn_with_state(options.request_timeout, deadline));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // The peer's address travels with each request (`GET /metrics` lets a loopback
        // client in without a key).
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(ErrorBodies::new(stream)), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!("open connections did not finish within the drain timeout");
    }
    Ok(())
}

/// Answers a connection over the cap with 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let response = error_response(&ErrorCode::TooManyConnections);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&response)).await;
    let _ = stream.shutdown().await;
}

/// A whole HTTP/1.1 error answer with the API's error body, that closes the connection.
fn error_response(code: &ErrorCode) -> Vec<u8> {
    let body = serde_json::to_vec(&ErrorBody::of(code)).unwrap_or_default();
    let status = code.http_status();
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// The request deadline. A request that changes something runs in a task of its own, so a
/// client that goes away or a request past its deadline never cancels an engine operation
/// half way: the client is answered 408 and the operation finishes (or is recovered) as it
/// would otherwise. A read (GET) has nothing to leave half done and runs in place.
async fn deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let timed_out = || {
        tracing::warn!(limit_secs = limit.as_secs(), "a request passed its deadline");
        axum::response::IntoResponse::into_response(crate::error::ApiError::from(ErrorCode::RequestTimeout))
    };
    if request.method() == axum::http::Method::GET {
        return tokio::time::timeout(limit, next.run(request)).await.unwrap_or_else(|_| timed_out());
    }
    let handler = tokio::spawn(next.run(request));
    match tokio::time::timeout(limit, handler).await {
        Ok(Ok(response)) => response,
        Ok(Err(_panicked)) => {
            tracing::error!("a request handler panicked");
            axum::response::IntoResponse::into_response(crate::error::ApiError::from(ErrorCode::Internal))
        }
        Err(_) => timed_out(),
    }
}

/// The connection's stream, with hyper's own bodiless error answers (written before any
/// request reached the router) rewritten to carry the API's error body.
pub struct ErrorBodies<S> {
    inner: S,
    /// A rewritten answer still being written, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ErrorBodies<S> {
    /// Wraps a stream.
    pub fn new(inner: S) -> Self {
        Self { inner, pending: None }
    }
}

/// The error code of an answer hyper writes on its own: a status line for a parse error, and
/// no content type (every answer of the router has one).
fn hyper_error(head: &[u8]) -> Option<ErrorCode> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&head[..end]).ok()?;
    if head.to_ascii_lowercase().contains("\r\ncontent-type:") {
        return None;
    }
    match head.get(..13)? {
        "HTTP/1.1 400 " | "HTTP/1.0 400 " => Some(ErrorCode::BadRequest),
        "HTTP/1.1 414 " | "HTTP/1.0 414 " => Some(ErrorCode::UriTooLong),
        "HTTP/1.1 431 " | "HTTP/1.0 431 " => Some(ErrorCode::HeadersTooLarge),
        _ => None,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ErrorBodies<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> ErrorBodies<S> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Poll::Ready(Err(error)) = this.poll_pending(cx) {
            return Poll::Ready(Err(error));
        }
        if this.pending.is_some() {
            return Poll::Pending;
        }
        if let Some(code) = hyper_error(buf) {
            // hyper wrote the whole head in this buffer and closes the connection after it.
            this.pending = Some((error_response(&code), 0));
            return match this.poll_pending(cx) {
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hyper_error;
    use warden_model::ErrorCode;

    #[test]
    fn only_hypers_bodiless_parse_errors_are_rewritten() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(hyper_error(hyper), Some(ErrorCode::HeadersTooLarge));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(hyper_error(ours), None);
        assert_eq!(hyper_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
    }
}
