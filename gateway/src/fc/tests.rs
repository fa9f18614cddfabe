//! Engine tests: Go `text/template` behaviour on small templates.

use serde_json::{json, Value};

use super::{Engine, Helpers};

fn render(src: &str, data: Value) -> Result<String, String> {
    let mut e = Engine::new(Helpers::default());
    e.add("t", src).map_err(|e| e.to_string())?;
    e.render("t", &data).map_err(|e| e.to_string())
}

fn ok(src: &str, data: Value) -> String {
    render(src, data).unwrap()
}

#[test]
fn fields_variables_and_pipelines() {
    let d = json!({"service": {"port": 8080, "name": "api"}});
    assert_eq!(ok("{{ .service.port }}", d.clone()), "8080");
    assert_eq!(
        ok("{{ $s := .service }}{{ $s.name | upper }}", d.clone()),
        "API"
    );
    assert_eq!(ok("{{ .service.missing }}", d.clone()), "<no value>");
    assert_eq!(ok(r#"{{ 3 | printf "%s-%d" "a" }}"#, d), "a-3");
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(ok("a  {{- /* c */ -}}  b", json!({})), "ab");
    assert_eq!(ok("[\n  {{- 1 }},\n  {{- 2 -}}\n]", json!({})), "[1,2]");
}

#[test]
fn range_over_lists_and_sorted_maps() {
    let d = json!({"l": ["a", "b"], "m": {"z": 1, "a": 2}});
    assert_eq!(
        ok(
            "{{ range $i, $e := .l }}{{ if $i }},{{ end }}{{ $i }}={{ $e }}{{ end }}",
            d.clone()
        ),
        "0=a,1=b"
    );
    assert_eq!(
        ok(
            "{{ range $k, $v := .m }}{{ $k }}{{ $v }}{{ end }}",
            d.clone()
        ),
        "a2z1"
    );
    assert_eq!(
        ok("{{ range .none }}x{{ else }}empty{{ end }}", d.clone()),
        "empty"
    );
    assert_eq!(
        ok(
            "{{ range .l }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            d
        ),
        "a"
    );
}

#[test]
fn if_else_chains_and_with() {
    let t = "{{ if eq .x 1 }}one{{ else if eq .x 2 }}two{{ else }}many{{ end }}";
    assert_eq!(ok(t, json!({"x": 1})), "one");
    assert_eq!(ok(t, json!({"x": 2})), "two");
    assert_eq!(ok(t, json!({"x": 3})), "many");
    assert_eq!(
        ok(
            "{{ with .a }}{{ .b }}{{ else }}none{{ end }}",
            json!({"a": {"b": 5}})
        ),
        "5"
    );
    assert_eq!(
        ok("{{ with .a }}{{ .b }}{{ else }}none{{ end }}", json!({})),
        "none"
    );
    assert_eq!(
        ok("{{ and 1 0 }}|{{ or 0 \"\" 3 }}|{{ not true }}", json!({})),
        "0|3|false"
    );
}

#[test]
fn variables_are_scoped_and_assignable() {
    let t = "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}";
    assert_eq!(ok(t, json!({})), "2");
    let err = render("{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}", json!({})).unwrap_err();
    assert!(err.contains("undefined variable: $y"), "{err}");
}

#[test]
fn define_template_and_block() {
    let t = r#"{{ define "ep" }}"{{ .path }}"{{ end }}[{{ template "ep" .a }},{{ block "b" . }}def{{ end }}]"#;
    assert_eq!(ok(t, json!({"a": {"path": "/x"}})), r#"["/x",def]"#);
}

#[test]
fn marshal_and_sprig_helpers() {
    let d = json!({"e": {"b": [1, 2], "a": "x"}});
    assert_eq!(ok("{{ marshal .e }}", d.clone()), r#"{"a":"x","b":[1,2]}"#);
    assert_eq!(ok("{{ .nope | default \"dflt\" }}", d.clone()), "dflt");
    assert_eq!(
        ok("{{ \"a,b\" | splitList \",\" | join \"-\" }}", d.clone()),
        "a-b"
    );
    assert_eq!(ok("{{ (dict \"k\" 1) | toJson }}", d.clone()), r#"{"k":1}"#);
    assert_eq!(
        ok("{{ hasKey .e \"a\" }} {{ len (list 1 2 3) }}", d.clone()),
        "true 3"
    );
    assert_eq!(
        ok("{{ quote \"a\\\"b\" }} {{ trim \"  x \" }}", d.clone()),
        r#""a\"b" x"#
    );
    assert_eq!(ok("{{ index .e.b 1 }} {{ add 1 2 }}", d), "2 3");
}

#[test]
fn env_reads_the_environment() {
    // PATH exists in every test environment; an unset name renders empty.
    assert!(!ok("{{ env \"PATH\" }}", json!({})).is_empty());
    assert_eq!(ok("{{ env \"CEPHALO_SURELY_UNSET_VAR\" }}", json!({})), "");
}

#[test]
fn errors_name_file_and_line() {
    let e = render("{\n\n  {{ .a.b.c }}\n}", json!({})).unwrap_err();
    assert_eq!(e, "template: t:3: nil pointer evaluating interface {}.b");
    let e = render("line1\n{{ nosuchfunc 1 }}", json!({})).unwrap_err();
    assert_eq!(e, "template: t:2: function \"nosuchfunc\" not defined");
    let e = render("{{ if .x }}\nunterminated", json!({})).unwrap_err();
    assert!(e.starts_with("template: t:1: unexpected EOF"), "{e}");
    let e = render("{{ template \"missing\" }}", json!({})).unwrap_err();
    assert!(e.contains("no such template"), "{e}");
}
