//! Sequential merge: backends are called in order; values of earlier responses fill
//! `{resp<N>_<path>}` parameters of later URLs. The first failure stops the chain.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::merge::Accumulator;
use super::{Outcome, Proxy, ProxyFuture, Request, Response, SharedProxy};
use crate::error::ProxyError;

/// One value copied from an earlier response into a request parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// Which earlier backend's response.
    pub backend: usize,
    /// Parameter name to set (`Resp0_foo.bar`).
    pub param: String,
    /// Path inside that response's data.
    pub source: Vec<String>,
}

/// Reads `Resp<N>_<path>` (normalised parameter name) into a replacement.
pub fn parse_resp_param(name: &str) -> Option<Replacement> {
    let rest = name
        .strip_prefix("Resp")
        .or_else(|| name.strip_prefix("resp"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let backend = digits.parse().ok()?;
    let field = rest[digits.len()..].strip_prefix('_').unwrap_or("");
    if field.is_empty() {
        return None;
    }
    Some(Replacement {
        backend,
        param: format!("Resp{digits}_{field}"),
        source: field.split('.').map(str::to_string).collect(),
    })
}

/// Formats a value as Go's `%v` does for the types JSON decoding produces.
pub fn go_value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        Value::Array(items) => items
            .iter()
            .map(go_value_text)
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_nested_text(v)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

fn go_nested_text(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(go_nested_text)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => go_value_text(other),
    }
}

/// Calls children one after the other.
pub struct SequentialMerge {
    children: Arc<[SharedProxy]>,
    replacements: Arc<[Vec<Replacement>]>,
    deadline: Duration,
}

impl SequentialMerge {
    /// `replacements[i]` lists what backend `i` takes from earlier responses.
    pub fn new(
        children: Vec<SharedProxy>,
        replacements: Vec<Vec<Replacement>>,
        deadline: Duration,
    ) -> Self {
        Self {
            children: children.into(),
            replacements: replacements.into(),
            deadline,
        }
    }
}

fn lookup<'a>(response: &'a Response, path: &[String]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut data = &response.data;
    for p in parents {
        data = data.get(p)?.as_object()?;
    }
    data.get(last)
}

impl Proxy for SequentialMerge {
    fn call(&self, mut request: Request) -> ProxyFuture {
        let children = self.children.clone();
        let replacements = self.replacements.clone();
        let deadline = Instant::now() + self.deadline;
        Box::pin(async move {
            let mut acc = Accumulator::new(children.len());
            let mut parts: Vec<Option<Response>> = Vec::with_capacity(children.len());
            for (i, child) in children.iter().enumerate() {
                for r in &replacements[i] {
                    let value = parts
                        .get(r.backend)
                        .and_then(Option::as_ref)
                        .and_then(|p| lookup(p, &r.source));
                    if let Some(v) = value {
                        request.params.insert(r.param.clone(), go_value_text(v));
                    }
                }
                let outcome =
                    match tokio::time::timeout_at(deadline, child.call(request.clone())).await {
                        Ok(o) => o,
                        Err(_) => Outcome::err(ProxyError::Timeout),
                    };
                if i == 0 {
                    if let Some(e) = outcome.error {
                        return Outcome::err(e);
                    }
                }
                if outcome.error.is_some() {
                    acc.merge(outcome);
                    break;
                }
                // Keep a copy of the data for later parameters; the original is merged.
                let Some(resp) = outcome.response else {
                    acc.merge(Outcome::err(ProxyError::NullResult));
                    break;
                };
                let complete = resp.is_complete;
                let copy = Response {
                    data: resp.data.clone(),
                    is_complete: complete,
                    passthrough: None,
                    headers: Default::default(),
                };
                acc.merge(Outcome::ok(resp));
                if !complete {
                    break;
                }
                parts.push(Some(copy));
            }
            acc.finish()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::from_fn;
    use crate::proxy::testing::*;
    use serde_json::json;

    #[test]
    fn parses_resp_params() {
        let r = parse_resp_param("Resp0_user.id").unwrap();
        assert_eq!((r.backend, r.param.as_str()), (0, "Resp0_user.id"));
        assert_eq!(r.source, vec!["user", "id"]);
        assert!(parse_resp_param("Id").is_none());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(go_value_text(&json!(42)), "42");
        assert_eq!(go_value_text(&json!([1, "a", true])), "1,a,true");
        assert_eq!(go_value_text(&json!({"b":[1,2],"a":1})), "map[a:1 b:[1 2]]");
    }

    #[tokio::test]
    async fn second_call_sees_first_value() {
        let second = from_fn(|r: Request| async move {
            Outcome::ok(data(json!({"got": r.params.get("Resp0_foo").cloned()})))
        });
        let s = SequentialMerge::new(
            vec![answering(json!({"foo": 42})), second],
            vec![vec![], vec![parse_resp_param("Resp0_foo").unwrap()]],
            Duration::from_secs(1),
        );
        let out = s.call(request()).await;
        let r = out.response.unwrap();
        assert!(r.is_complete);
        assert_eq!(r.data["got"], json!("42"));
    }

    #[tokio::test]
    async fn first_failure_returns_no_response() {
        let s = SequentialMerge::new(
            vec![failing("first"), answering(json!({"x":1}))],
            vec![vec![], vec![]],
            Duration::from_secs(1),
        );
        let out = s.call(request()).await;
        assert!(out.response.is_none());
        assert_eq!(out.error.unwrap().to_string(), "first");
    }

    #[tokio::test]
    async fn later_failure_gives_partial() {
        let s = SequentialMerge::new(
            vec![answering(json!({"x":1})), failing("second")],
            vec![vec![], vec![]],
            Duration::from_secs(1),
        );
        let out = s.call(request()).await;
        assert!(!out.response.unwrap().is_complete);
        assert!(out.error.is_some());
    }
}
