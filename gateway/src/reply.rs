//! What a request is answered with: a response the gateway made, or a `no-op` backend's
//! response relayed with its head as it came (see [`crate::relay`]), which the HTTP/1.x
//! connection writes without a header map ever being built.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use http_body_util::BodyExt;

use crate::backend::pool::PooledBody;
use crate::body::{Body, BoxError};
use crate::http1::fields::{name_is_any, RawFields, WireField};
use crate::http1::HOP_BY_HOP;

/// [`crate::endpoint::KRAKEND`] and [`crate::endpoint::COMPLETED`] as bytes.
const X_KRAKEND: &[u8] = b"x-krakend";
const X_KRAKEND_COMPLETED: &[u8] = b"x-krakend-completed";

/// The answer to one request.
pub enum Reply {
    /// A response the gateway made: any endpoint's, a built-in route's, an error.
    Made(http::Response<Body>),
    /// A `no-op` backend's response passed through as it came.
    Relayed(Relayed),
}

impl Reply {
    /// The status sent.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Made(r) => r.status(),
            Self::Relayed(r) => r.status,
        }
    }

    /// The answer as an `http` response (for HTTP/2, and for a layer that adds headers).
    pub fn into_response(self) -> http::Response<Body> {
        match self {
            Self::Made(r) => r,
            Self::Relayed(r) => r.into_response(),
        }
    }
}

impl From<http::Response<Body>> for Reply {
    fn from(response: http::Response<Body>) -> Self {
        Self::Made(response)
    }
}

/// A `no-op` backend's response on its way to the client: what KrakenD's pass-through sends
/// is the backend's status, its headers but the hop-by-hop ones, `X-Krakend` and
/// `X-Krakend-Completed: false` unless the backend sent those, and its body as it streams.
pub struct Relayed {
    /// The backend's status.
    pub status: StatusCode,
    /// The backend's header fields, as they came.
    pub fields: RawFields,
    /// The backend's body, which gives its connection back to the pool once read.
    pub body: PooledBody,
    /// The gateway's `X-Krakend` value.
    pub version: HeaderValue,
    /// Headers a service guard adds (CORS, `security/http`): as `ServiceGuards::finish` adds
    /// them to a map, the first value of each name, a `Vary` joining the backend's, any other
    /// replacing the backend's of the same name.
    pub extra: Option<Box<HeaderMap>>,
}

impl Relayed {
    /// The header fields sent to the client, in order: the backend's (names as they came)
    /// but the hop-by-hop ones and those a guard's replace, the gateway's where the backend
    /// sent none, then the guards'.
    pub fn fields(&self) -> RelayedFields<'_> {
        let (mut has_version, mut has_completed) = (false, false);
        for (name, _) in self.fields.iter() {
            has_version |= name.eq_ignore_ascii_case(X_KRAKEND);
            has_completed |= name.eq_ignore_ascii_case(X_KRAKEND_COMPLETED);
        }
        let ours = |name: &'static [u8], value| WireField {
            name,
            value,
            canonical: true,
        };
        RelayedFields {
            relayed: self,
            backend: 0,
            ours: [
                (!has_version).then(|| ours(b"X-Krakend", self.version.as_bytes())),
                (!has_completed).then(|| ours(b"X-Krakend-Completed", b"false")),
            ],
            extra: self.extra.as_deref().map(HeaderMap::keys),
        }
    }

    /// The same answer as an `http` response: the backend's fields and the gateway's in a
    /// map, to which the guards' then go as `ServiceGuards::finish` adds them.
    pub fn into_response(mut self) -> http::Response<Body> {
        let extra = self.extra.take();
        let mut headers = HeaderMap::with_capacity(self.fields.len() + 2);
        for field in self.fields() {
            // The client's parser admits only tokens and visible values, which both take.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(field.name),
                HeaderValue::from_bytes(field.value),
            ) {
                headers.append(name, value);
            }
        }
        let body = self.body.map_err(|e| Box::new(e) as BoxError).boxed();
        let mut response = http::Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        crate::security::ServiceGuards::finish(extra.map(|e| *e), &mut response);
        response
    }
}

/// [`Relayed::fields`]: one plain loop over the three parts (a write takes every field, and
/// nested iterator adapters cost it more than the fields' own work).
pub struct RelayedFields<'a> {
    relayed: &'a Relayed,
    /// The next backend field.
    backend: usize,
    /// The gateway's, taken in turn.
    ours: [Option<WireField<'a>>; 2],
    /// The guards' names still to go.
    extra: Option<header::Keys<'a, HeaderValue>>,
}

impl RelayedFields<'_> {
    /// Whether a guard's header replaces the backend's `name`.
    fn replaced(&self, name: &[u8]) -> bool {
        self.relayed.extra.as_deref().is_some_and(|e| {
            e.keys()
                .any(|k| *k != header::VARY && name.eq_ignore_ascii_case(k.as_str().as_bytes()))
        })
    }
}

impl<'a> Iterator for RelayedFields<'a> {
    type Item = WireField<'a>;

    fn next(&mut self) -> Option<WireField<'a>> {
        while let Some(field) = self.relayed.fields.field(self.backend) {
            self.backend += 1;
            if !name_is_any(field.0, &HOP_BY_HOP) && !self.replaced(field.0) {
                return Some(WireField::raw(field));
            }
        }
        if let Some(ours) = self.ours.iter_mut().find_map(Option::take) {
            return Some(ours);
        }
        let extra = self.relayed.extra.as_deref()?;
        let name = self.extra.as_mut()?.next()?;
        // The first value of each name, as `ServiceGuards::finish` takes it.
        let value = extra.get(name)?;
        Some(WireField {
            name: name.as_str().as_bytes(),
            value: value.as_bytes(),
            canonical: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{COMPLETED, KRAKEND};

    #[test]
    fn our_names_are_the_endpoints() {
        assert_eq!(X_KRAKEND, KRAKEND.as_str().as_bytes());
        assert_eq!(X_KRAKEND_COMPLETED, COMPLETED.as_str().as_bytes());
    }
}
