//! The `validation/cel` layer (endpoint and backend level). Request rules see `req_method`,
//! `req_path`, `req_params`, `req_headers`, `req_querystring` and `now`; response rules see
//! `resp_completed`, `resp_metadata_status`, `resp_metadata_headers`, `resp_data` and `now`.
//! A rule that is false, not a boolean or fails to evaluate aborts the request with
//! `request aborted by evaluator #N` (N counts the rules of that phase, as KrakenD does).
//! JWT rules are not run here: the JWT validator calls [`JwtRejecter::rejects`] with the claims.

use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map as CelMap};
use cel_interpreter::{Context, Value as Cel};
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::config::namespaces::cel::CelRule;
use crate::error::ProxyError;
use crate::proxy::{Outcome, Proxy, ProxyFuture, Request, Response, SharedProxy};

/// Where `now` comes from (RFC 3339 text); replaceable in tests.
pub type Clock = Arc<dyn Fn() -> String + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(|| httpdate_rfc3339(std::time::SystemTime::now()))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a system time.
fn httpdate_rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::civil::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Runs the request rules, the next layer, then the response rules.
pub struct CelValidation {
    base: Arc<Context<'static>>,
    pre: Vec<CelRule>,
    post: Vec<CelRule>,
    next: SharedProxy,
    clock: Clock,
}

impl CelValidation {
    /// A layer over `next`, or `next` itself when no rule applies to requests or responses.
    pub fn wrap(rules: &[CelRule], next: SharedProxy) -> SharedProxy {
        Self::with_clock(rules, next, system_clock())
    }

    /// As [`CelValidation::wrap`], with `now` from `clock`.
    pub fn with_clock(rules: &[CelRule], next: SharedProxy, clock: Clock) -> SharedProxy {
        let pre: Vec<_> = rules.iter().filter(|r| r.on_request()).cloned().collect();
        let post: Vec<_> = rules.iter().filter(|r| r.on_response()).cloned().collect();
        if pre.is_empty() && post.is_empty() {
            return next;
        }
        Arc::new(Self {
            base: Arc::new(Context::default()),
            pre,
            post,
            next,
            clock,
        })
    }
}

/// The message KrakenD returns when rule `i` refuses.
pub fn aborted(i: usize) -> ProxyError {
    ProxyError::Transport(format!("request aborted by evaluator #{i}"))
}

/// Index of the first rule that is not `true` under `vars`.
fn first_failing(
    base: &Context<'static>,
    rules: &[CelRule],
    vars: Vec<(&str, Cel)>,
) -> Option<usize> {
    let mut ctx = base.new_inner_scope();
    for (name, v) in vars {
        ctx.add_variable_from_value(name, v);
    }
    rules.iter().position(|r| {
        let result = r.program.execute(&ctx);
        if !matches!(result, Ok(Cel::Bool(true))) {
            tracing::info!(expr = %r.source, result = ?result, "CEL evaluator refused");
            true
        } else {
            false
        }
    })
}

fn string(s: &str) -> Cel {
    Cel::String(Arc::new(s.to_string()))
}

fn map(entries: impl IntoIterator<Item = (String, Cel)>) -> Cel {
    let m: HashMap<Key, Cel> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k)), v))
        .collect();
    Cel::Map(CelMap { map: Arc::new(m) })
}

fn list(items: impl IntoIterator<Item = String>) -> Cel {
    Cel::List(Arc::new(items.into_iter().map(|s| string(&s)).collect()))
}

/// `content-type` -> `Content-Type`, the form Go programs see.
pub fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

fn headers(h: &HeaderMap) -> Cel {
    let mut grouped: HashMap<String, Vec<String>> = HashMap::new();
    for (n, v) in h {
        grouped
            .entry(canonical_header(n.as_str()))
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    map(grouped.into_iter().map(|(k, v)| (k, list(v))))
}

/// A JSON value as a CEL value (numbers keep their integer-ness).
pub fn json_to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Cel::Int(i)
            } else if let Some(u) = n.as_u64() {
                Cel::UInt(u)
            } else {
                Cel::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => string(s),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(o) => object_to_cel(o),
    }
}

fn object_to_cel(o: &Map<String, Value>) -> Cel {
    map(o.iter().map(|(k, v)| (k.clone(), json_to_cel(v))))
}

fn request_vars(r: &Request, now: String) -> Vec<(&'static str, Cel)> {
    vec![
        ("req_method", string(r.method.as_str())),
        ("req_path", string(&r.path)),
        (
            "req_params",
            map(r.params.iter().map(|(k, v)| (k.clone(), string(v)))),
        ),
        ("req_headers", headers(&r.headers)),
        (
            "req_querystring",
            map(r
                .query
                .iter()
                .map(|(k, v)| (k.clone(), list(v.iter().cloned())))),
        ),
        ("now", string(&now)),
    ]
}

fn response_vars(r: &Response, now: String) -> Vec<(&'static str, Cel)> {
    let (status, hdrs) = match &r.passthrough {
        Some(p) => (i64::from(p.status.as_u16()), headers(&p.headers)),
        None => (200, headers(&HeaderMap::new())),
    };
    vec![
        ("resp_completed", Cel::Bool(r.is_complete)),
        ("resp_metadata_status", Cel::Int(status)),
        ("resp_metadata_headers", hdrs),
        ("resp_data", object_to_cel(&r.data)),
        ("now", string(&now)),
    ]
}

impl Proxy for CelValidation {
    fn call(&self, request: Request) -> ProxyFuture {
        let now = (self.clock)();
        if !self.pre.is_empty() {
            if let Some(i) =
                first_failing(&self.base, &self.pre, request_vars(&request, now.clone()))
            {
                return Box::pin(async move { Outcome::err(aborted(i)) });
            }
        }
        let fut = self.next.call(request);
        if self.post.is_empty() {
            return fut;
        }
        let base = self.base.clone();
        let post = self.post.clone();
        Box::pin(async move {
            let outcome = fut.await;
            if outcome.error.is_some() {
                return outcome;
            }
            let Some(resp) = &outcome.response else {
                return outcome;
            };
            match first_failing(&base, &post, response_vars(resp, now)) {
                Some(i) => Outcome::err(aborted(i)),
                None => outcome,
            }
        })
    }
}

/// The JWT rules of an endpoint, for the JWT validator to run on validated claims
/// (KrakenD answers `401 Unauthorized` when one refuses).
pub struct JwtRejecter {
    base: Context<'static>,
    rules: Vec<CelRule>,
}

impl JwtRejecter {
    /// The rejecter for `rules`, or `None` when none of them mentions `JWT`.
    pub fn new(rules: &[CelRule]) -> Option<Self> {
        let rules: Vec<_> = rules.iter().filter(|r| r.on_jwt()).cloned().collect();
        (!rules.is_empty()).then(|| Self {
            base: Context::default(),
            rules,
        })
    }

    /// Whether the claims are refused by some rule.
    pub fn rejects(&self, claims: &Map<String, Value>) -> bool {
        let now = httpdate_rfc3339(std::time::SystemTime::now());
        first_failing(
            &self.base,
            &self.rules,
            vec![("JWT", object_to_cel(claims)), ("now", string(&now))],
        )
        .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::cel::parse;
    use crate::config::walk::Walker;
    use crate::proxy::testing::{answering, failing, request};
    use http::HeaderValue;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn rules(exprs: &[&str]) -> Vec<CelRule> {
        let v = Value::Array(exprs.iter().map(|e| json!({ "check_expr": e })).collect());
        let mut w = Walker::default();
        let r = parse(&v, "t", &mut w);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        r
    }

    fn counting(calls: Arc<AtomicUsize>, data: Value) -> SharedProxy {
        crate::proxy::from_fn(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            let d = data.clone();
            async move { Outcome::ok(crate::proxy::testing::data(d)) }
        })
    }

    fn req(id: &str, header: Option<&str>) -> Request {
        let mut r = request();
        r.params.insert("Id".into(), id.into());
        if let Some(h) = header {
            r.headers
                .insert("x-header", HeaderValue::from_str(h).unwrap());
        }
        r
    }

    fn message(o: &Outcome) -> String {
        o.error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    const CE_ENDPOINT: &[&str] = &[
        "'something' in req_headers['X-Header']",
        "int(req_params.Id) % 2 == 0",
    ];

    #[tokio::test]
    async fn request_rules_abort_with_the_failing_index() {
        let calls = Arc::new(AtomicUsize::new(0));
        let p = CelValidation::wrap(
            &rules(CE_ENDPOINT),
            counting(calls.clone(), json!({"a": 1})),
        );
        let o = p.call(req("1", Some("something"))).await;
        assert_eq!(message(&o), "request aborted by evaluator #1");
        // A missing header is an evaluation error: refused by the first rule.
        let o = p.call(req("30", None)).await;
        assert_eq!(message(&o), "request aborted by evaluator #0");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "no backend call when refused"
        );
        let o = p.call(req("10", Some("something"))).await;
        assert!(o.error.is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn all_request_variables_are_available() {
        let r = rules(&[
            "req_method == 'POST' && req_path == '/p' && req_querystring.a[0] == 'x'",
            "req_headers['Content-Type'][0] == 'text/plain' && now.startsWith('20')",
        ]);
        let p = CelValidation::wrap(&r, answering(json!({})));
        let mut q = request();
        q.method = http::Method::POST;
        q.path = "/p".into();
        q.query.insert("a".into(), vec!["x".into()]);
        q.headers
            .insert("content-type", HeaderValue::from_static("text/plain"));
        assert!(p.call(q.clone()).await.error.is_none());
        q.method = http::Method::GET;
        assert_eq!(message(&p.call(q).await), "request aborted by evaluator #0");
    }

    #[tokio::test]
    async fn response_rules_see_the_data() {
        let r = rules(&[
            "req_method == 'GET'",
            "resp_data.status == 'ok' && resp_completed",
        ]);
        let p = CelValidation::wrap(&r, answering(json!({"status": "ok"})));
        assert!(p.call(request()).await.error.is_none());
        let p = CelValidation::wrap(&r, answering(json!({"status": "down"})));
        let o = p.call(request()).await;
        assert!(o.response.is_none());
        // Response rules are numbered on their own.
        assert_eq!(message(&o), "request aborted by evaluator #0");
    }

    #[tokio::test]
    async fn next_errors_pass_through_untouched() {
        let p = CelValidation::wrap(&rules(&["resp_completed"]), failing("boom"));
        assert_eq!(message(&p.call(request()).await), "boom");
    }

    #[tokio::test]
    async fn non_boolean_results_refuse() {
        let p = CelValidation::wrap(&rules(&["req_path"]), answering(json!({})));
        assert_eq!(
            message(&p.call(request()).await),
            "request aborted by evaluator #0"
        );
    }

    #[tokio::test]
    async fn now_comes_from_the_clock() {
        let clock: Clock = Arc::new(|| "2030-01-02T03:04:05Z".to_string());
        let p = CelValidation::with_clock(
            &rules(&["req_path == '/' && now == '2030-01-02T03:04:05Z'"]),
            answering(json!({})),
            clock,
        );
        assert!(p.call(request()).await.error.is_none());
    }

    #[test]
    fn jwt_rules_are_only_for_the_rejecter() {
        let r = rules(&["size(JWT.roles) > 1"]);
        let rej = JwtRejecter::new(&r).unwrap();
        let ok = json!({"roles": ["a", "b"], "sub": "x"});
        let ko = json!({"roles": ["a"]});
        assert!(!rej.rejects(ok.as_object().unwrap()));
        assert!(rej.rejects(ko.as_object().unwrap()));
        assert!(rej.rejects(&Map::new()));
        assert!(JwtRejecter::new(&rules(&["req_path == '/'"])).is_none());
    }

    #[test]
    fn rfc3339_dates() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_735_689_600);
        assert_eq!(httpdate_rfc3339(t), "2025-01-01T00:00:00Z");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400 + 3661);
        assert_eq!(httpdate_rfc3339(t), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn headers_are_canonical() {
        assert_eq!(canonical_header("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(canonical_header("content-type"), "Content-Type");
    }
}
