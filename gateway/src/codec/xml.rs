//! XML <-> map conversion in the shape KrakenD (clbanning/mxj) uses: attributes become
//! `-name` keys, text next to attributes or children becomes `#text`, repeated elements
//! become arrays, every leaf is a string.

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use serde_json::{Map, Value};

struct Node {
    name: String,
    map: Map<String, Value>,
    text: String,
    has_children: bool,
}

impl Node {
    fn new(name: String) -> Self {
        Self {
            name,
            map: Map::new(),
            text: String::new(),
            has_children: false,
        }
    }

    fn into_value(self) -> Value {
        let text = self.text.trim();
        if self.map.is_empty() && !self.has_children {
            return Value::String(text.to_string());
        }
        let mut map = self.map;
        if !text.is_empty() {
            map.insert("#text".into(), Value::String(text.to_string()));
        }
        Value::Object(map)
    }
}

fn add_child(map: &mut Map<String, Value>, name: String, value: Value) {
    match map.get_mut(&name) {
        None => {
            map.insert(name, value);
        }
        Some(Value::Array(list)) => list.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// Decodes an XML document into a map keyed by the root element's name.
pub fn decode(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("xml: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::new(String::new())];
    loop {
        let event = reader.read_event().map_err(|e| format!("xml: {e}"))?;
        match event {
            Event::Start(e) => open(&e, &mut stack)?,
            Event::Empty(e) => {
                open(&e, &mut stack)?;
                close(&mut stack)?;
            }
            Event::End(_) => {
                close(&mut stack)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(c.as_ref());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| format!("xml: {e}"))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("&{name};"))
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("xml: unexpected end of document".into());
    }
    let root = stack.pop().map(|n| n.map).unwrap_or_default();
    if root.is_empty() {
        return Err("xml: no root element".into());
    }
    Ok(root)
}

fn open(e: &quick_xml::events::BytesStart<'_>, stack: &mut Vec<Node>) -> Result<(), String> {
    let name = e.local_name().as_ref().to_string();
    let mut node = Node::new(name);
    for attr in e.attributes() {
        let attr = attr.map_err(|e| format!("xml: {e}"))?;
        let key = attr.key.local_name().as_ref().to_string();
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("xml: {e}"))?
            .into_owned();
        node.map.insert(format!("-{key}"), Value::String(value));
    }
    if let Some(parent) = stack.last_mut() {
        parent.has_children = true;
    }
    stack.push(node);
    Ok(())
}

fn close(stack: &mut Vec<Node>) -> Result<(), String> {
    if stack.len() < 2 {
        return Err("xml: unbalanced end tag".into());
    }
    let node = stack.pop().ok_or("xml: unbalanced end tag")?;
    let name = node.name.clone();
    let value = node.into_value();
    if let Some(parent) = stack.last_mut() {
        add_child(&mut parent.map, name, value);
    }
    Ok(())
}

/// Encodes a map as XML: a single-key object becomes the root element, anything else is
/// wrapped in `<doc>`.
pub fn encode(data: &Map<String, Value>) -> String {
    let mut out = String::new();
    match data.iter().next() {
        Some((k, v)) if data.len() == 1 && !k.starts_with('-') => write_element(&mut out, k, v),
        _ => write_element(&mut out, "doc", &Value::Object(data.clone())),
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn write_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, name, item);
            }
        }
        Value::Object(map) => {
            out.push('<');
            out.push_str(name);
            for (k, v) in map {
                if let Some(attr) = k.strip_prefix('-') {
                    out.push_str(&format!(" {attr}=\"{}\"", escape(&scalar_text(v))));
                }
            }
            let children: Vec<_> = map.iter().filter(|(k, _)| !k.starts_with('-')).collect();
            if children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            for (k, v) in children {
                if k == "#text" {
                    out.push_str(&escape(&scalar_text(v)));
                } else {
                    write_element(out, k, v);
                }
            }
            out.push_str(&format!("</{name}>"));
        }
        scalar => {
            out.push_str(&format!(
                "<{name}>{}</{name}>",
                escape(&scalar_text(scalar))
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOC: &str = "<?xml version=\"1.0\"?>\n<user type=\"admin\">\n  <name>Elliot &amp; co</name>\n  <tag>a</tag><tag>b</tag>\n  <empty/>\n</user>";

    #[test]
    fn decodes_like_mxj() {
        let m = decode(DOC.as_bytes()).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"user":{"-type":"admin","name":"Elliot & co","tag":["a","b"],"empty":""}})
        );
    }

    #[test]
    fn round_trips_to_compact_xml() {
        let m = decode(DOC.as_bytes()).unwrap();
        assert_eq!(
            encode(&m),
            "<user type=\"admin\"><empty></empty><name>Elliot &amp; co</name><tag>a</tag><tag>b</tag></user>"
        );
    }

    #[test]
    fn rejects_broken_xml() {
        assert!(decode(b"<a><b></a>").is_err());
        assert!(decode(b"").is_err());
    }
}
