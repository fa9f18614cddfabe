//! The proxy tier: what an endpoint does with its backends (merge, sequential, static,
//! flatmap, shadow). Every layer is a [`Proxy`] wrapping other proxies, built once per
//! endpoint at start-up.

pub mod flatmap;
pub mod merge;
pub mod sequential;
pub mod shadow;
pub mod static_data;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value};

use crate::body::Body;
use crate::error::ProxyError;

/// The request a proxy layer receives: what the endpoint extracted from the client request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method for the backend call (set per backend by the request builder).
    pub method: Method,
    /// The client request path.
    pub path: String,
    /// Query parameters allowed through by `input_query_strings`, sorted by key.
    pub query: BTreeMap<String, Vec<String>>,
    /// Path parameters (normalised names), plus `Resp0_x` values added by sequential merges.
    pub params: HashMap<String, String>,
    /// Headers for the backend (already filtered, with the X-Forwarded-* set).
    pub headers: HeaderMap,
    /// The client request body.
    pub body: Bytes,
    /// Whether the client sent a body at all (decides `Content-Length: 0` vs none).
    pub has_body: bool,
    /// A backend call chosen by an earlier layer (a Lua script's `url()`/`method()`), used
    /// by the backend instead of the one it builds from its pattern.
    pub target: Option<Box<BackendTarget>>,
}

/// The method, URL and path of one backend call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendTarget {
    /// Method.
    pub method: Method,
    /// Absolute URL, query included.
    pub url: String,
    /// The path the URL pattern produced.
    pub path: String,
}

/// A response travelling back up the tiers.
#[derive(Debug, Default)]
pub struct Response {
    /// Decoded and manipulated data.
    pub data: Map<String, Value>,
    /// Whether every backend answered in time and successfully.
    pub is_complete: bool,
    /// For `no-op` backends: the backend's status, headers and body, untouched.
    pub passthrough: Option<Passthrough>,
    /// Headers a layer (a Lua script) set for the client response; sent when it has data.
    pub headers: HeaderMap,
}

/// A backend response passed through without decoding.
#[derive(Debug)]
pub struct Passthrough {
    /// Backend status.
    pub status: StatusCode,
    /// Backend headers.
    pub headers: HeaderMap,
    /// Backend body.
    pub body: Body,
}

/// What a proxy layer produced: a response, an error, or both (a partial merge).
#[derive(Debug, Default)]
pub struct Outcome {
    /// The (possibly partial) response.
    pub response: Option<Response>,
    /// What went wrong, if anything.
    pub error: Option<ProxyError>,
}

impl Outcome {
    /// A response and no error.
    pub fn ok(response: Response) -> Self {
        Self {
            response: Some(response),
            error: None,
        }
    }

    /// An error and no response.
    pub fn err(error: ProxyError) -> Self {
        Self {
            response: None,
            error: Some(error),
        }
    }
}

/// The future every proxy returns.
pub type ProxyFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// One layer of the proxy tier.
pub trait Proxy: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, request: Request) -> ProxyFuture;
}

/// A proxy shared between the layers that wrap it.
pub type SharedProxy = Arc<dyn Proxy>;

/// Adapts a closure into a [`Proxy`] (used for tests and small layers).
pub struct FnProxy<F>(pub F);

impl<F, Fut> Proxy for FnProxy<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn call(&self, request: Request) -> ProxyFuture {
        Box::pin((self.0)(request))
    }
}

/// Wraps a closure as a shared proxy.
pub fn from_fn<F, Fut>(f: F) -> SharedProxy
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    Arc::new(FnProxy(f))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for layer tests.
    use super::*;

    /// An empty GET request.
    pub fn request() -> Request {
        Request {
            method: Method::GET,
            path: "/".into(),
            query: BTreeMap::new(),
            params: HashMap::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            has_body: false,
            target: None,
        }
    }

    /// A complete response with the given JSON object.
    pub fn data(v: Value) -> Response {
        Response {
            data: v.as_object().cloned().unwrap_or_default(),
            is_complete: true,
            passthrough: None,
            headers: HeaderMap::new(),
        }
    }

    /// A proxy always answering with `v`.
    pub fn answering(v: Value) -> SharedProxy {
        from_fn(move |_| {
            let v = v.clone();
            async move { Outcome::ok(data(v)) }
        })
    }

    /// A proxy always failing.
    pub fn failing(msg: &'static str) -> SharedProxy {
        from_fn(move |_| async move { Outcome::err(ProxyError::Transport(msg.into())) })
    }

    /// Headers from `(name, value)` pairs, repeated names appended.
    pub fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }
}
