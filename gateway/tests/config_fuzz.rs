//! Random and mutated configs never make the loader panic.

use std::path::Path;

use gateway::config::{parse_str, Format};
use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z/{}*:._-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("3s"),
            Just("GET"),
            Just("/a/{id}"),
            Just("no-op"),
            Just("http://h"),
            Just("{resp0_x}")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("version".to_string()),
                    Just("endpoints".to_string()),
                    Just("backend".to_string()),
                    Just("endpoint".to_string()),
                    Just("url_pattern".to_string()),
                    Just("host".to_string()),
                    Just("extra_config".to_string()),
                    Just("proxy".to_string()),
                    Just("static".to_string()),
                    Just("flatmap_filter".to_string()),
                    Just("timeout".to_string()),
                    Just("method".to_string()),
                    "[a-z_/]{1,10}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn random_trees_never_panic(mut v in arb_json(), version in prop::bool::ANY) {
        if version {
            if let Value::Object(m) = &mut v { m.insert("version".into(), json!(3)); }
        }
        let text = v.to_string();
        let _ = parse_str(&text, Format::Json, Path::new("fuzz.json"));
        let _ = parse_str(&text, Format::Yaml, Path::new("fuzz.yaml"));
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        for f in [Format::Json, Format::Yaml, Format::Toml] {
            let _ = parse_str(&text, f, Path::new("fuzz"));
        }
    }

    #[test]
    fn mutated_valid_config_never_panics(endpoint in "[/a-z{}*]{0,12}", pattern in "[/a-z{}_0-9.]{0,14}", method in "[A-Za-z]{0,7}", enc in "[a-z-]{0,8}") {
        let v = json!({"version": 3, "endpoints": [{"endpoint": endpoint, "method": method,
            "extra_config": {"proxy": {"sequential": true}},
            "backend": [{"host": ["h"], "url_pattern": "/x"}, {"host": ["h"], "url_pattern": pattern, "encoding": enc}]}]});
        if let Ok(cfg) = parse_str(&v.to_string(), Format::Json, Path::new("m.json")) {
            // A config the loader accepts must also build a router without panicking.
            let _ = gateway::app::Gateway::build(&cfg, true);
        }
    }
}
