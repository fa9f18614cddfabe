//! Responses framed as Go's `net/http` server frames them.
//!
//! Go buffers up to 2048 bytes of handler output: a body that fits is sent
//! with `Content-Length`, a larger one (written in one call, as the mock's
//! handlers do) is sent `Transfer-Encoding: chunked`. `http.Error` sets
//! `Content-Type: text/plain; charset=utf-8` and `X-Content-Type-Options:
//! nosniff` and appends a newline. `Date` is added by hyper as Go adds it.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// Go's `bufferBeforeChunkingSize`.
pub const GO_CHUNKING_THRESHOLD: usize = 2048;

/// A response body that is either sized (`Content-Length`) or streamed
/// without a known size (chunked), chosen like Go's server chooses.
pub struct GoBody {
    data: Option<Bytes>,
    sized: bool,
}

impl GoBody {
    /// Frames `data` as Go would for a single write followed by handler return.
    pub fn new(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        let sized = data.len() <= GO_CHUNKING_THRESHOLD;
        Self {
            data: Some(data),
            sized,
        }
    }

    /// An empty, sized body (`Content-Length: 0` where a body is allowed).
    pub fn empty() -> Self {
        Self::new(Bytes::new())
    }
}

impl Body for GoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.data
                .take()
                .filter(|d| !d.is_empty())
                .map(|d| Ok(Frame::data(d))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.sized && self.data.as_ref().is_none_or(|d| d.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.data, self.sized) {
            (Some(d), true) => SizeHint::with_exact(d.len() as u64),
            (None, true) => SizeHint::with_exact(0),
            (_, false) => SizeHint::default(),
        }
    }
}

/// A response with the given status, `Content-Type` and body.
pub fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<GoBody> {
    let mut response = Response::new(GoBody::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Go's `http.Error(w, msg, code)`.
pub fn go_error(status: StatusCode, msg: &str) -> Response<GoBody> {
    let mut response = with_type(status, "text/plain; charset=utf-8", format!("{msg}\n"));
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Go's `http.NotFound`.
pub fn not_found() -> Response<GoBody> {
    go_error(StatusCode::NOT_FOUND, "404 page not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_are_sized_large_ones_chunked() {
        assert_eq!(
            GoBody::new(vec![b'x'; 2048]).size_hint().exact(),
            Some(2048)
        );
        assert_eq!(GoBody::new(vec![b'x'; 2049]).size_hint().exact(), None);
        assert_eq!(GoBody::empty().size_hint().exact(), Some(0));
    }

    #[test]
    fn not_found_matches_go() {
        let r = not_found();
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.body().size_hint().exact(), Some(19));
    }
}
