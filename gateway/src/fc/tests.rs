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

/// Data as the settings loader makes it: every JSON number a Go float64.
fn settings(v: Value) -> Value {
    super::gofmt::floats(v)
}

#[test]
fn settings_numbers_are_float64_and_print_like_go() {
    let d = settings(json!({"port": 8080, "ratio": 0.5, "big": 1000000}));
    assert_eq!(
        ok("{{ .port }} {{ .ratio }} {{ .big }}", d.clone()),
        "8080 0.5 1e+06"
    );
    assert_eq!(
        ok("{{ marshal .big }} {{ marshal . }}", d.clone()),
        r#"1000000 {"big":1000000,"port":8080,"ratio":0.5}"#
    );
    assert_eq!(
        ok(
            "{{ typeOf .port }} {{ typeOf 1 }} {{ typeOf 1.5 }} {{ kindOf (list 1) }}",
            d
        ),
        "float64 int float64 slice"
    );
}

#[test]
fn comparisons_are_as_strict_as_go() {
    let d = settings(json!({"port": 8080, "env": "prod"}));
    let e = render("{{ if eq .port 8080 }}x{{ end }}", d.clone()).unwrap_err();
    assert_eq!(
        e,
        "template: t:1: error calling eq: incompatible types for comparison"
    );
    assert_eq!(
        ok("{{ eq .port 8080.0 }} {{ eq (int .port) 8080 }}", d.clone()),
        "true true"
    );
    assert_eq!(
        ok(
            r#"{{ eq .env "dev" "prod" }} {{ eq .env "a" "b" "c" }}"#,
            d.clone()
        ),
        "true false"
    );
    assert_eq!(
        ok(r#"{{ eq .missing "x" }} {{ ne .missing 1 }}"#, d.clone()),
        "false true"
    );
    let e = render(r#"{{ eq .env 1 }}"#, d.clone()).unwrap_err();
    assert!(e.ends_with("incompatible types for comparison"), "{e}");
    let e = render("{{ lt 1 2.5 }}", d.clone()).unwrap_err();
    assert!(e.ends_with("incompatible types for comparison"), "{e}");
    let e = render("{{ lt true false }}", d.clone()).unwrap_err();
    assert!(e.ends_with("invalid type for comparison"), "{e}");
    let e = render("{{ eq (list 1) (list 1) }}", d.clone()).unwrap_err();
    assert!(e.contains("non-comparable types"), "{e}");
    assert_eq!(
        ok(r#"{{ lt "a" "b" }} {{ ge .port 80.0 }} {{ gt 2 1 }}"#, d),
        "true true true"
    );
}

#[test]
fn printf_print_and_println_follow_fmt() {
    let d = settings(json!({"port": 8080, "host": "api"}));
    assert_eq!(
        ok(
            r#"{{ printf "%s:%v/%05.1f|%-6s|%q" .host .port 2.25 "ab" "x" }}"#,
            d.clone()
        ),
        r#"api:8080/002.2|ab    |"x""#
    );
    assert_eq!(
        ok(r#"{{ printf "%d" .port }}"#, d.clone()),
        "%!d(float64=8080)"
    );
    assert_eq!(ok(r#"{{ printf "%d%%" (int .port) }}"#, d.clone()), "8080%");
    assert_eq!(ok(r#"{{ print 1 2 "a" 3 "b" "c" }}"#, d.clone()), "1 2a3bc");
    assert_eq!(ok(r#"{{ println 1 "a" }}"#, d), "1 a\n");
}

#[test]
fn sprig_arithmetic_is_int64_unless_f() {
    let d = settings(json!({"n": 7}));
    assert_eq!(ok("{{ add 1.9 1 }} {{ add .n 1 }} {{ div .n 2 }} {{ mod 7 3 }} {{ mul 2 3 4 }} {{ sub 1 5 }}", d.clone()), "2 8 3 1 24 -4");
    assert_eq!(
        ok(
            "{{ addf 1.5 1 }} {{ mulf 2 1.5 }} {{ divf 1 4 }} {{ subf 5 0.5 1 }} {{ maxf 1 2.5 }}",
            d.clone()
        ),
        "2.5 3 0.25 3.5 2.5"
    );
    assert_eq!(
        ok(
            "{{ floor 1.7 }} {{ ceil 1.2 }} {{ round 3.14159 2 }} {{ max 1 9 3 }} {{ min 4 2 }}",
            d.clone()
        ),
        "1 2 3.14 9 2"
    );
    let e = render("{{ div 1 0 }}", d).unwrap_err();
    assert!(e.contains("integer divide by zero"), "{e}");
}

#[test]
fn regex_and_date_helpers_in_templates() {
    let d = settings(json!({"host": "api-v2.example.com"}));
    assert_eq!(
        ok(
            r#"{{ regexReplaceAll "^api-(v\\d+)\\..*$" .host "${1}" }} {{ regexMatch "^api" .host }}"#,
            d.clone()
        ),
        "v2 true"
    );
    let year = ok(r#"{{ now | date "2006" }}"#, d.clone());
    assert!(year.len() == 4 && year.as_str() >= "2026", "{year}");
    assert_eq!(
        ok(r#"{{ date "2006-01-02 15:04" 86400 }}"#, d.clone()),
        "1970-01-02 00:00"
    );
    let stamp = ok("{{ marshal (dict \"at\" now) }}", d);
    assert!(
        stamp.starts_with(r#"{"at":"20"#) && stamp.ends_with(r#"Z"}"#),
        "{stamp}"
    );
}

#[test]
fn more_sprig_string_and_list_helpers() {
    let d =
        settings(json!({"user": {"role": {"name": "admin"}}, "a": {"name": "x"}, "b": {"id": 1}}));
    // Sprig's documented examples.
    assert_eq!(
        ok(
            r#"{{ substr 0 5 "hello world" }}|{{ substr 6 -1 "hello world" }}"#,
            d.clone()
        ),
        "hello|world"
    );
    assert_eq!(
        ok(
            r#"{{ trunc 5 "hello world" }}|{{ trunc -5 "hello world" }}|{{ trunc 50 "hi" }}"#,
            d.clone()
        ),
        "hello|world|hi"
    );
    assert_eq!(
        ok(
            r#"{{ abbrev 5 "hello world" }}|{{ abbrev 3 "hello" }}"#,
            d.clone()
        ),
        "he...|hello"
    );
    assert_eq!(ok(r#"{{ initials "First Try" }}"#, d.clone()), "FT");
    assert_eq!(
        ok(
            r#"{{ plural "one anchovy" "many anchovies" 2 }}"#,
            d.clone()
        ),
        "many anchovies"
    );
    assert_eq!(
        ok(r#"{{ splitn "$" 2 "foo$bar$baz" }}"#, d.clone()),
        "map[_0:foo _1:bar$baz]"
    );
    assert_eq!(
        ok(
            r#"{{ dig "user" "role" "name" "guest" . }}|{{ dig "user" "x" "guest" . }}"#,
            d.clone()
        ),
        "admin|guest"
    );
    assert_eq!(ok(r#"{{ pluck "name" .a .b }}"#, d.clone()), "[x]");
    assert_eq!(ok("{{ reverse (list 1 2 3) }} {{ compact (list 1 \"a\" \"foo\" \"\") }} {{ without (list 1 2 3 4) 3 }}", d.clone()), "[3 2 1] [1 a foo] [1 2 4]");
    assert_eq!(
        ok(
            "{{ deepEqual (list 1 2) (list 1 2) }} {{ deepEqual 1 1.0 }}",
            d.clone()
        ),
        "true false"
    );
    assert_eq!(
        ok(
            r#"{{ expandenv "x${CEPHALO_SURELY_UNSET_VAR}y$CEPHALO_SURELY_UNSET_VAR." }}"#,
            d.clone()
        ),
        "xy."
    );
    assert!(ok(r#"{{ expandenv "$PATH" }}"#, d).contains('/'));
}
