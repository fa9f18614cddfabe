//! Detaching a request head from hyper's read buffer.
//!
//! hyper parses a request in place: the URI and every header value are slices of the
//! connection's 8 KiB read buffer. While the request runs, hyper keeps reading the socket to
//! notice a client that goes away, and since the head still holds the old buffer it allocates
//! a second one. Copying the head (a few hundred bytes) into one buffer of its own lets hyper
//! reuse its first one in place: one 8 KiB block less per request in flight.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::HeaderValue;
use http::uri::PathAndQuery;
use http::{Request, Uri};

/// Moves `request`'s URI and header values into one new buffer sized for them.
pub fn detach<B>(request: &mut Request<B>) {
    let uri_len = match request.uri().path_and_query() {
        Some(pq) if request.uri().scheme().is_none() => pq.as_str().len(),
        // Absolute or authority forms are rare: the URI is copied on its own.
        _ => {
            let copy = Bytes::copy_from_slice(request.uri().to_string().as_bytes());
            if let Ok(uri) = Uri::from_maybe_shared(copy) {
                *request.uri_mut() = uri;
            }
            0
        }
    };
    let values_len: usize = request.headers().values().map(|v| v.len()).sum();
    let mut buffer = BytesMut::with_capacity(uri_len + values_len);
    if uri_len > 0 {
        if let Some(pq) = request.uri().path_and_query() {
            buffer.put_slice(pq.as_str().as_bytes());
        }
    }
    for value in request.headers().values() {
        buffer.put_slice(value.as_bytes());
    }
    let mut buffer = buffer.freeze();
    if uri_len > 0 {
        let path = buffer.split_to(uri_len);
        if let Ok(pq) = PathAndQuery::from_maybe_shared(path) {
            *request.uri_mut() = Uri::from(pq);
        }
    }
    for value in request.headers_mut().values_mut() {
        let copy = buffer.split_to(value.len());
        let sensitive = value.is_sensitive();
        if let Ok(mut detached) = HeaderValue::from_maybe_shared(copy) {
            detached.set_sensitive(sensitive);
            *value = detached;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_equal_and_no_longer_shares_the_read_buffer() {
        let read_buffer = Bytes::from_static(b"/a/b?c=d%20e xyz text/html");
        let mut request = Request::builder()
            .uri(Uri::from_maybe_shared(read_buffer.slice(0..12)).unwrap())
            .body(())
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "x-one",
            HeaderValue::from_maybe_shared(read_buffer.slice(13..16)).unwrap(),
        );
        headers.append(
            "accept",
            HeaderValue::from_maybe_shared(read_buffer.slice(17..26)).unwrap(),
        );
        headers.append("accept", HeaderValue::from_static("*/*"));
        let before = request.headers().clone();

        detach(&mut request);

        assert_eq!(request.uri(), "/a/b?c=d%20e");
        assert_eq!(request.headers(), &before);
        let inside = |p: *const u8| {
            let range = read_buffer.as_ptr_range();
            range.contains(&p)
        };
        assert!(!inside(request.uri().path().as_ptr()));
        for value in request.headers().values() {
            assert!(!inside(value.as_bytes().as_ptr()), "{value:?} still shared");
        }
    }

    #[test]
    fn absolute_form_uris_survive() {
        let mut request = Request::builder()
            .uri("http://example.com:8080/x?y=1")
            .body(())
            .unwrap();
        detach(&mut request);
        assert_eq!(request.uri(), "http://example.com:8080/x?y=1");
    }
}
