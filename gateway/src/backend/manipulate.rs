//! Response manipulation of one backend: `target`, `allow`/`deny`, `mapping`, `group`
//! (or `flatmap_filter` instead of allow/deny/mapping), in KrakenD's order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::namespaces::proxy::FlatmapOp;
use crate::config::BackendConfig;
use crate::proxy::flatmap;

/// A tree of allowed paths; a leaf keeps the whole value.
#[derive(Debug, Default, Clone)]
struct AllowTree(BTreeMap<String, Option<AllowTree>>);

impl AllowTree {
    fn build(paths: &[String]) -> Self {
        let mut root = AllowTree::default();
        for p in paths {
            let parts: Vec<&str> = p.split('.').collect();
            let mut node = &mut root;
            for (i, part) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                let entry = node
                    .0
                    .entry((*part).to_string())
                    .or_insert_with(|| Some(AllowTree::default()));
                if last {
                    *entry = None;
                    break;
                }
                match entry {
                    Some(child) => node = child,
                    None => break,
                }
            }
        }
        root
    }

    /// Keeps only allowed entries; returns true when nothing is left.
    fn prune(&self, data: &mut Map<String, Value>) -> bool {
        data.retain(|k, v| match self.0.get(k) {
            None => false,
            Some(None) => true,
            Some(Some(sub)) => match v {
                Value::Object(inner) => !sub.prune(inner),
                _ => false,
            },
        });
        data.is_empty()
    }
}

/// What a backend does to its decoded data, prepared once.
#[derive(Debug, Clone)]
pub struct Formatter {
    target: Vec<String>,
    allow: Option<AllowTree>,
    deny: Vec<Vec<String>>,
    mapping: Vec<(String, String)>,
    flatmap: Vec<FlatmapOp>,
    group: Option<String>,
}

impl Formatter {
    /// The formatter for one backend.
    pub fn new(cfg: &BackendConfig) -> Self {
        Self {
            target: cfg
                .target
                .as_deref()
                .map(|t| t.split('.').map(str::to_string).collect())
                .unwrap_or_default(),
            allow: (!cfg.allow.is_empty()).then(|| AllowTree::build(&cfg.allow)),
            deny: cfg
                .deny
                .iter()
                .map(|d| d.split('.').map(str::to_string).collect())
                .collect(),
            mapping: cfg.mapping.clone(),
            flatmap: cfg.proxy.flatmap.clone(),
            group: cfg.group.clone(),
        }
    }

    /// Whether this formatter changes anything.
    pub fn is_identity(&self) -> bool {
        self.target.is_empty()
            && self.allow.is_none()
            && self.deny.is_empty()
            && self.mapping.is_empty()
            && self.flatmap.is_empty()
            && self.group.is_none()
    }

    /// Applies the manipulations.
    pub fn format(&self, mut data: Map<String, Value>) -> Map<String, Value> {
        if !self.target.is_empty() {
            data = extract_target(data, &self.target);
        }
        if !self.flatmap.is_empty() {
            flatmap::apply(&self.flatmap, &mut data);
        } else {
            if !data.is_empty() {
                if let Some(allow) = &self.allow {
                    allow.prune(&mut data);
                } else {
                    for path in &self.deny {
                        deny(&mut data, path);
                    }
                }
            }
            for (from, to) in &self.mapping {
                if let Some(v) = data.remove(from) {
                    data.insert(to.clone(), v);
                }
            }
        }
        if let Some(g) = &self.group {
            let mut wrapped = Map::new();
            wrapped.insert(g.clone(), Value::Object(data));
            data = wrapped;
        }
        data
    }
}

fn extract_target(mut data: Map<String, Value>, target: &[String]) -> Map<String, Value> {
    for part in target {
        match data.remove(part) {
            Some(Value::Object(inner)) => data = inner,
            _ => return Map::new(),
        }
    }
    data
}

fn deny(data: &mut Map<String, Value>, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            data.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = data.get_mut(first) {
                deny(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{pattern::UrlTemplate, BackendEncoding};
    use serde_json::json;

    fn backend() -> BackendConfig {
        BackendConfig {
            url_pattern_raw: "/".into(),
            url_pattern: UrlTemplate::parse("/").unwrap(),
            hosts: vec!["http://h".into()],
            method: http::Method::GET,
            encoding: BackendEncoding::Json,
            group: None,
            target: None,
            allow: vec![],
            deny: vec![],
            mapping: vec![],
            is_collection: false,
            input_headers: None,
            input_query_strings: None,
            proxy: Default::default(),
            http: Default::default(),
            traffic: Default::default(),
        }
    }

    fn run(b: BackendConfig, v: Value) -> Value {
        Value::Object(Formatter::new(&b).format(v.as_object().unwrap().clone()))
    }

    #[test]
    fn allow_nested_paths() {
        let mut b = backend();
        b.allow = vec!["a.b".into(), "c".into()];
        assert_eq!(
            run(b, json!({"a":{"b":1,"x":2},"c":[1],"d":4})),
            json!({"a":{"b":1},"c":[1]})
        );
    }

    #[test]
    fn deny_nested_paths() {
        let mut b = backend();
        b.deny = vec!["a.b".into(), "d".into()];
        assert_eq!(
            run(b, json!({"a":{"b":1,"x":2},"d":4})),
            json!({"a":{"x":2}})
        );
    }

    #[test]
    fn target_mapping_group_in_order() {
        let mut b = backend();
        b.target = Some("data.user".into());
        b.mapping = vec![("name".into(), "full_name".into())];
        b.group = Some("u".into());
        assert_eq!(
            run(b, json!({"data":{"user":{"name":"n","id":1}}})),
            json!({"u":{"full_name":"n","id":1}})
        );
    }

    #[test]
    fn missing_target_gives_empty() {
        let mut b = backend();
        b.target = Some("nope".into());
        assert_eq!(run(b, json!({"a":1})), json!({}));
    }
}
