//! `flatmap_filter`: move, delete and append values by dot paths, `*` crossing arrays.

use serde_json::{Map, Value};

use super::{Proxy, ProxyFuture, Request, SharedProxy};
use crate::config::namespaces::proxy::FlatmapOp;

/// Applies every operation, in order, to `data`.
pub fn apply(ops: &[FlatmapOp], data: &mut Map<String, Value>) {
    let mut root = Value::Object(std::mem::take(data));
    for op in ops {
        match op {
            FlatmapOp::Del(path) => del(&mut root, path),
            FlatmapOp::Move(from, to) => move_value(&mut root, from, to),
            FlatmapOp::Append(from, to) => append(&mut root, from, to),
        }
    }
    if let Value::Object(m) = root {
        *data = m;
    }
}

fn child_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match v {
        Value::Object(m) => m.get_mut(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    }
}

fn del(v: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if first == "*" {
        match v {
            Value::Array(items) if rest.is_empty() => items.clear(),
            Value::Array(items) => items.iter_mut().for_each(|i| del(i, rest)),
            Value::Object(m) if rest.is_empty() => m.clear(),
            Value::Object(m) => m.values_mut().for_each(|i| del(i, rest)),
            _ => {}
        }
        return;
    }
    if rest.is_empty() {
        match v {
            Value::Object(m) => {
                m.remove(first);
            }
            Value::Array(a) => {
                if let Ok(i) = first.parse::<usize>() {
                    if i < a.len() {
                        a.remove(i);
                    }
                }
            }
            _ => {}
        }
        return;
    }
    if let Some(c) = child_mut(v, first) {
        del(c, rest);
    }
}

fn take(v: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = v;
    for p in parents {
        cur = child_mut(cur, p)?;
    }
    match cur {
        Value::Object(m) => m.remove(last),
        _ => None,
    }
}

fn set(v: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *v = value;
        return;
    };
    let mut cur = v;
    for p in parents {
        if !cur.is_object() && !cur.is_array() {
            *cur = Value::Object(Map::new());
        }
        let exists = child_mut(cur, p).is_some();
        if !exists {
            match cur {
                Value::Object(m) => {
                    m.insert(p.clone(), Value::Object(Map::new()));
                }
                _ => return,
            }
        }
        cur = match child_mut(cur, p) {
            Some(c) => c,
            None => return,
        };
    }
    match cur {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                *slot = value;
            }
        }
        other => {
            let mut m = Map::new();
            m.insert(last.clone(), value);
            *other = Value::Object(m);
        }
    }
}

/// Splits two paths at a shared wildcard prefix: (prefix, from rest, to rest).
fn shared_wildcard<'a>(
    from: &'a [String],
    to: &'a [String],
) -> Option<(&'a [String], &'a [String], &'a [String])> {
    let star = from.iter().position(|s| s == "*")?;
    if to.len() > star && to[..=star] == from[..=star] {
        Some((&from[..star], &from[star + 1..], &to[star + 1..]))
    } else {
        None
    }
}

fn at_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = child_mut(cur, p)?;
    }
    Some(cur)
}

fn move_value(root: &mut Value, from: &[String], to: &[String]) {
    if let Some((prefix, from_rest, to_rest)) = shared_wildcard(from, to) {
        if let Some(Value::Array(items)) = at_mut(root, prefix) {
            for item in items {
                move_value(item, from_rest, to_rest);
            }
        }
        return;
    }
    if from.iter().chain(to).any(|s| s == "*") {
        return;
    }
    if let Some(v) = take(root, from) {
        set(root, to, v);
    }
}

fn append(root: &mut Value, from: &[String], to: &[String]) {
    if from.iter().chain(to).any(|s| s == "*") {
        return;
    }
    let Some(src) = take(root, from) else {
        return;
    };
    let extra = match src {
        Value::Array(a) => a,
        other => vec![other],
    };
    match at_mut(root, to) {
        Some(Value::Array(dst)) => dst.extend(extra),
        Some(other) => {
            let mut list = vec![other.take()];
            list.extend(extra);
            *other = Value::Array(list);
        }
        None => set(root, to, Value::Array(extra)),
    }
}

/// The endpoint-level flatmap layer over the merged response.
pub struct Flatmap {
    next: SharedProxy,
    ops: std::sync::Arc<[FlatmapOp]>,
}

impl Flatmap {
    /// The layer.
    pub fn new(next: SharedProxy, ops: Vec<FlatmapOp>) -> Self {
        Self {
            next,
            ops: ops.into(),
        }
    }
}

impl Proxy for Flatmap {
    fn call(&self, request: Request) -> ProxyFuture {
        let fut = self.next.call(request);
        let ops = self.ops.clone();
        Box::pin(async move {
            let mut outcome = fut.await;
            if outcome.error.is_none() {
                if let Some(r) = &mut outcome.response {
                    apply(&ops, &mut r.data);
                }
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    fn run(ops: Vec<FlatmapOp>, v: Value) -> Value {
        let mut m = v.as_object().unwrap().clone();
        apply(&ops, &mut m);
        Value::Object(m)
    }

    #[test]
    fn move_del_with_wildcards() {
        let out = run(
            vec![
                FlatmapOp::Move(p("collection"), p("paths")),
                FlatmapOp::Del(p("paths.*.i")),
                FlatmapOp::Move(p("paths.*.path"), p("paths.*.url")),
            ],
            json!({"collection":[{"i":0,"path":"/a"},{"i":1,"path":"/b"}]}),
        );
        assert_eq!(out, json!({"paths":[{"url":"/a"},{"url":"/b"}]}));
    }

    #[test]
    fn move_creates_nested_objects() {
        let out = run(vec![FlatmapOp::Move(p("a"), p("x.y"))], json!({"a":1}));
        assert_eq!(out, json!({"x":{"y":1}}));
    }

    #[test]
    fn append_concatenates() {
        let out = run(
            vec![FlatmapOp::Append(p("a"), p("b"))],
            json!({"a":[3],"b":[1,2]}),
        );
        assert_eq!(out, json!({"b":[1,2,3]}));
    }

    #[test]
    fn del_by_index() {
        let out = run(vec![FlatmapOp::Del(p("a.0"))], json!({"a":[1,2]}));
        assert_eq!(out, json!({"a":[2]}));
    }
}
