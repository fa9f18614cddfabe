//! The Lua layers: `modifier/lua-proxy` over an endpoint's proxy stack and
//! `modifier/lua-backend` over one backend (`pre` on the request, the next layer unless
//! `skip_next`, `post` on the response), and `modifier/lua-endpoint`'s `pre` on the client
//! request. A script error ends the request: `custom_error`'s status, or 500.

use std::sync::Arc;
use std::time::Duration;

use crate::config::namespaces::lua::LuaOptions;
use crate::endpoint::ClientRequest;
use crate::lua::ctx::CtxHandle;
use crate::lua::error::ScriptError;
use crate::lua::request::RequestHandle;
use crate::lua::response::{read_passthrough, ResponseHandle};
use crate::lua::vm::Script;
use crate::proxy::{BackendTarget, Outcome, Proxy, ProxyFuture, Request, Response, SharedProxy};

/// What a backend would call for a request (its method, URL and path), for `url()`.
pub type Targeter = Arc<dyn Fn(&Request) -> BackendTarget + Send + Sync>;

/// A Lua layer over `next`.
pub struct LuaLayer {
    script: Arc<Script>,
    next: SharedProxy,
    targeter: Option<Targeter>,
}

/// `modifier/lua-proxy` over `next` (or `next` itself when the script does nothing).
pub fn wrap_proxy(opts: &LuaOptions, limit: Duration, next: SharedProxy) -> SharedProxy {
    wrap(opts, limit, next, None)
}

/// `modifier/lua-backend` over `next`; `targeter` says what the backend would call.
pub fn wrap_backend(
    opts: &LuaOptions,
    limit: Duration,
    next: SharedProxy,
    targeter: Targeter,
) -> SharedProxy {
    wrap(opts, limit, next, Some(targeter))
}

fn wrap(
    opts: &LuaOptions,
    limit: Duration,
    next: SharedProxy,
    targeter: Option<Targeter>,
) -> SharedProxy {
    if opts.is_noop() {
        return next;
    }
    Arc::new(LuaLayer {
        script: Script::new(opts, limit),
        next,
        targeter,
    })
}

impl Proxy for LuaLayer {
    fn call(&self, mut request: Request) -> ProxyFuture {
        let script = self.script.clone();
        let next = self.next.clone();
        let target = self.targeter.as_ref().map(|t| t(&request));
        Box::pin(async move {
            let vm = match script.take() {
                Ok(vm) => vm,
                Err(e) => return Outcome::err(e.into_proxy_error()),
            };
            let handle = RequestHandle::new(&request, target.as_ref());
            if let Err(e) = vm.pre(&handle) {
                script.give(vm);
                return Outcome::err(e.into_proxy_error());
            }
            handle.apply(&mut request, target.as_ref());
            let opts = script.options();
            let mut outcome = if opts.skip_next {
                Outcome::ok(Response::default())
            } else {
                next.call(request).await
            };
            // Like KrakenD, a failed call is returned as it is, without `post`.
            if outcome.error.is_some() || opts.post.is_none() {
                script.give(vm);
                return outcome;
            }
            let mut response = outcome.response.take().unwrap_or_default();
            let body = read_passthrough(response.passthrough.as_mut()).await;
            let handle = ResponseHandle::new(&mut response, body);
            let result = vm.post(&handle);
            script.give(vm);
            handle.apply(&mut response);
            match result {
                Ok(()) => Outcome::ok(response),
                Err(e) => Outcome::err(e.into_proxy_error()),
            }
        })
    }
}

/// `modifier/lua-endpoint`: `pre` on the client request, before the endpoint reads it.
pub struct EndpointScript(Arc<Script>);

impl EndpointScript {
    /// The script for `opts` (`None` without `pre`: KrakenD CE runs nothing else there).
    pub fn new(opts: &LuaOptions, limit: Duration) -> Option<Self> {
        opts.pre.as_ref()?;
        Some(Self(Script::new(opts, limit)))
    }

    /// Runs `pre` over `c`, changing it in place.
    pub fn run(&self, c: &mut ClientRequest) -> Result<(), ScriptError> {
        let vm = self.0.take()?;
        let handle = CtxHandle::new(c);
        let result = vm.pre_client(&handle);
        self.0.give(vm);
        handle.apply(c);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProxyError;
    use crate::proxy::testing::{answering, request};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn opts(pre: Option<&str>, post: Option<&str>) -> LuaOptions {
        LuaOptions {
            pre: pre.map(String::from),
            post: post.map(String::from),
            ..Default::default()
        }
    }

    const LIMIT: Duration = Duration::from_secs(1);

    #[test]
    fn nothing_to_run_adds_no_layer() {
        let p = answering(json!({}));
        assert!(Arc::ptr_eq(
            &wrap_proxy(&opts(None, None), LIMIT, p.clone()),
            &p
        ));
    }

    #[tokio::test]
    async fn pre_changes_the_request_and_post_the_response() {
        let seen = crate::proxy::from_fn(|r: Request| async move {
            Outcome::ok(crate::proxy::testing::data(json!({
                "path": r.path, "q": r.query.get("added").cloned(), "n": 1
            })))
        });
        let p = wrap_proxy(
            &opts(
                Some("local r = request.load(); r:path('/changed'); r:query('added=yes'); marker = 'kept'"),
                Some("local d = response.load():data(); d:set('n', d:get('n') + 1); d:set('marker', marker)"),
            ),
            LIMIT,
            seen,
        );
        let o = p.call(request()).await;
        let data = serde_json::Value::Object(o.response.unwrap().data);
        assert_eq!(
            data,
            json!({"path": "/changed", "q": ["yes"], "n": 2, "marker": "kept"})
        );
    }

    #[tokio::test]
    async fn skip_next_answers_from_the_script() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let next = crate::proxy::from_fn(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Outcome::ok(Response::default()) }
        });
        let mut o = opts(
            None,
            Some("local r = response.load(); r:data():set('from', 'lua'); r:isComplete(true)"),
        );
        o.skip_next = true;
        let out = wrap_proxy(&o, LIMIT, next).call(request()).await;
        let r = out.response.unwrap();
        assert!(r.is_complete);
        assert_eq!(r.data["from"], "lua");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn errors_stop_the_request_with_their_status() {
        let p = wrap_proxy(
            &opts(Some("custom_error('nope', 401)"), None),
            LIMIT,
            answering(json!({})),
        );
        let e = p.call(request()).await.error.unwrap();
        assert_eq!(
            e,
            ProxyError::WithStatus {
                status: 401,
                body: "nope".into(),
                content_type: None
            }
        );
        let p = wrap_proxy(
            &opts(None, Some("nil_function()")),
            LIMIT,
            answering(json!({})),
        );
        let e = p.call(request()).await.error.unwrap();
        assert!(
            matches!(&e, ProxyError::Script(m) if m.contains("nil_function")),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn backend_level_can_redirect_the_call() {
        let next = crate::proxy::from_fn(|r: Request| async move {
            let t = r.target.expect("a target");
            Outcome::ok(crate::proxy::testing::data(
                json!({"url": t.url, "method": t.method.as_str()}),
            ))
        });
        let targeter: Targeter = Arc::new(|r: &Request| BackendTarget {
            method: http::Method::GET,
            url: format!("http://backend{}", r.path),
            path: r.path.clone(),
        });
        let p = wrap_backend(
            &opts(
                Some("local r = request.load(); r:url(r:url() .. '/more'); r:method('PUT')"),
                None,
            ),
            LIMIT,
            next,
            targeter,
        );
        let r = p.call(request()).await.response.unwrap();
        assert_eq!(r.data["url"], "http://backend//more");
        assert_eq!(r.data["method"], "PUT");
    }
}
