//! Answers written from the store's read cache: one integration as its cached JSON, and a
//! list streamed as a JSON array in chunks of about 32 KiB, so that answering 10,000
//! integrations to many clients at once holds a chunk per connection, not a whole body.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use http_body::Frame;
use warden_engine::Engine;
use warden_store::Shown;

use crate::views::IntegrationView;

/// About how much of a list goes into one chunk of the answer.
const CHUNK: usize = 32 * 1024;

/// The JSON of `shown` as responses show it, made once per version of the integration.
pub fn json<'a>(shown: &'a Shown, engine: &Engine) -> &'a [u8] {
    shown.rendered(|summary| IntegrationView::of_summary(summary, engine).to_json())
}

/// A 200 answer carrying `body` as JSON.
fn json_response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// One integration.
pub fn one(shown: &Shown, engine: &Engine) -> Response {
    json_response(Body::from(Bytes::copy_from_slice(json(shown, engine))))
}

/// A JSON array of `items`, streamed.
pub fn list(items: Vec<Arc<Shown>>, engine: Arc<Engine>) -> Response {
    json_response(Body::new(ListBody {
        items: items.into_iter(),
        engine,
        started: false,
        separate: false,
        closed: false,
    }))
}

/// The body of a list answer: `[`, the items' JSON separated by commas, `]`, a chunk at a
/// time as the connection takes them.
struct ListBody {
    items: std::vec::IntoIter<Arc<Shown>>,
    engine: Arc<Engine>,
    /// `[` is written.
    started: bool,
    /// An item is written, so the next one needs a comma.
    separate: bool,
    /// `]` is written.
    closed: bool,
}

impl http_body::Body for ListBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(None);
        }
        let mut chunk = Vec::with_capacity(CHUNK + 1024);
        if !this.started {
            chunk.push(b'[');
            this.started = true;
        }
        while chunk.len() < CHUNK {
            let Some(item) = this.items.next() else {
                chunk.push(b']');
                this.closed = true;
                break;
            };
            if this.separate {
                chunk.push(b',');
            }
            this.separate = true;
            chunk.extend_from_slice(json(&item, &this.engine));
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.closed
    }
}
