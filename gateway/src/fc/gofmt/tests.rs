//! Expected strings are what Go 1.22's `fmt.Sprintf` / `encoding/json` print.

use serde_json::{json, Value};

use super::*;

fn f(x: f64) -> Value {
    float(x)
}

fn p(format: &str, args: &[Value]) -> String {
    sprintf(format, args)
}

#[test]
fn kinds_come_from_the_number_text() {
    assert_eq!(kind(&json!(1)), Kind::Int);
    assert_eq!(kind(&f(1.0)), Kind::Float);
    assert_eq!(
        kind(&serde_json::from_str::<Value>("8080.0").unwrap()),
        Kind::Float
    );
    assert_eq!(kind(&floats(json!({"p": [8080]}))["p"][0]), Kind::Float);
}

#[test]
fn float_v_is_shortest_g_with_exponent_from_1e6() {
    assert_eq!(float_v(8080.0), "8080");
    assert_eq!(float_v(0.5), "0.5");
    assert_eq!(float_v(100000.0), "100000");
    assert_eq!(float_v(1e6), "1e+06");
    assert_eq!(float_v(1234567.0), "1.234567e+06");
    assert_eq!(float_v(0.0001), "0.0001");
    assert_eq!(float_v(0.00001), "1e-05");
    assert_eq!(float_v(-2.5e-10), "-2.5e-10");
    assert_eq!(float_v(0.0), "0");
    assert_eq!(float_v(1e21), "1e+21");
}

#[test]
fn float_json_is_encoding_json() {
    assert_eq!(float_json(8080.0), "8080");
    assert_eq!(float_json(1e6), "1000000");
    assert_eq!(float_json(1e20), "100000000000000000000");
    assert_eq!(float_json(1e21), "1e+21");
    assert_eq!(float_json(1e-7), "1e-7");
    assert_eq!(float_json(0.000001), "0.000001");
    assert_eq!(float_json(-1.5), "-1.5");
    let v = json_numbers(&json!({"b": f(1e6), "a": [f(0.25), 3]}));
    assert_eq!(v.to_string(), r#"{"a":[0.25,3],"b":1000000}"#);
}

#[test]
fn sprintf_verbs() {
    assert_eq!(p("%v|%s|%d", &[f(1.5), json!("a"), json!(3)]), "1.5|a|3");
    assert_eq!(p("%v", &[f(8080.0)]), "8080");
    assert_eq!(p("%5.2f|", &[f(4.56789)]), " 4.57|");
    assert_eq!(p("%08.3f", &[f(4.56789)]), "0004.568");
    assert_eq!(p("%-10s|", &[json!("abc")]), "abc       |");
    assert_eq!(p("%10s|", &[json!("abc")]), "       abc|");
    assert_eq!(p("%.2s", &[json!("hello")]), "he");
    assert_eq!(p("%t %5t", &[json!(true), json!(false)]), "true false");
    assert_eq!(p("100%%", &[]), "100%");
    assert_eq!(p("%q", &[json!("a\"b\n\t\u{7}")]), r#""a\"b\n\t\a""#);
    assert_eq!(p("%#q", &[json!("a\"b")]), "`a\"b`");
    assert_eq!(
        p("%x %X %x", &[json!(255), json!("hi"), json!("hi")]),
        "ff 6869 6869"
    );
    assert_eq!(
        p(
            "%#x %x %o %b",
            &[json!(255), json!(-255), json!(8), json!(5)]
        ),
        "0xff -ff 10 101"
    );
    assert_eq!(
        p(
            "%05d|%+d|% d|%-4d|",
            &[json!(-42), json!(5), json!(5), json!(7)]
        ),
        "-0042|+5| 5|7   |"
    );
    assert_eq!(p("%.3d", &[json!(7)]), "007");
    assert_eq!(
        p("%c%c %q %U", &[json!(72), json!(105), json!(65), json!(65)]),
        "Hi 'A' U+0041"
    );
    assert_eq!(
        p("%e|%E|%.2e", &[f(1234.5678), f(0.00012), f(5.0)]),
        "1.234568e+03|1.200000E-04|5.00e+00"
    );
    assert_eq!(
        p(
            "%g|%.3g|%.3g|%g",
            &[f(1234.5678), f(1234.5678), f(1.5), f(1e-7)]
        ),
        "1234.5678|1.23e+03|1.5|1e-07"
    );
    assert_eq!(p("%+.1f", &[f(2.25)]), "+2.2");
    assert_eq!(p("%6.1f|%-6.1f|", &[f(-2.0), f(2.0)]), "  -2.0|2.0   |");
    assert_eq!(
        p("%*d|%-*d|", &[json!(4), json!(1), json!(3), json!(2)]),
        "   1|2  |"
    );
}

#[test]
fn sprintf_composites_and_nil() {
    assert_eq!(p("%v", &[json!([1, "a", null])]), "[1 a <nil>]");
    assert_eq!(p("%s", &[json!(["x", "y"])]), "[x y]");
    assert_eq!(p("%d", &[json!([1, 2])]), "[1 2]");
    assert_eq!(p("%v", &[json!({"b": 1, "a": "x"})]), "map[a:x b:1]");
    assert_eq!(p("%v", &[floats(json!({"n": 2}))]), "map[n:2]");
    assert_eq!(p("%v|%s", &[Value::Null, Value::Null]), "<nil>|%!s(<nil>)");
}

#[test]
fn sprintf_bad_verbs_missing_and_extra_arguments() {
    assert_eq!(p("%d", &[json!("x")]), "%!d(string=x)");
    assert_eq!(p("%s", &[json!(1)]), "%!s(int=1)");
    assert_eq!(p("%d", &[f(1.5)]), "%!d(float64=1.5)");
    assert_eq!(p("%t", &[json!(1)]), "%!t(int=1)");
    assert_eq!(p("%f", &[json!(true)]), "%!f(bool=true)");
    assert_eq!(p("%d %d", &[json!(1)]), "1 %!d(MISSING)");
    assert_eq!(
        p("%d", &[json!(1), json!("a"), f(2.0)]),
        "1%!(EXTRA string=a, float64=2)"
    );
    assert_eq!(p("abc%", &[]), "abc%!(NOVERB)");
    assert_eq!(p("%z", &[json!(1)]), "%!z(int=1)");
}

#[test]
fn quote_is_strconv_quote() {
    assert_eq!(quote("héllo"), "\"héllo\"");
    assert_eq!(quote("a\\b"), r#""a\\b""#);
    assert_eq!(quote("\u{0}\u{1b}\u{7f}"), r#""\x00\x1b\x7f""#);
    assert_eq!(quote("\u{85}"), r#""\u0085""#);
}
