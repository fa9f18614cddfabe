//! Evaluator for parsed templates: Go `text/template` semantics over JSON values
//! (maps iterate in sorted key order, missing keys print `<no value>`).

use serde_json::Value;

use super::funcs::{self, Helpers};
use super::gofmt::{self, float};
pub use super::gofmt::{display, type_name};
use super::parse::{Arg, BranchKind, Node, Pipe, Trees};
use super::TemplateError;

const MAX_DEPTH: usize = 100_000;

/// Parsed templates plus the helpers they may call.
pub struct Engine {
    trees: Trees,
    /// Which file each template came from (for error messages).
    files: std::collections::HashMap<String, String>,
    helpers: Helpers,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'e> {
    engine: &'e Engine,
    file: String,
    vars: Vec<(String, Value)>,
    out: String,
    depth: usize,
}

impl Engine {
    /// An engine with no templates yet.
    pub fn new(helpers: Helpers) -> Self {
        Self {
            trees: Trees::new(),
            files: Default::default(),
            helpers,
        }
    }

    /// Parses `src` (from file `name`) and adds its templates; later definitions win.
    pub fn add(&mut self, name: &str, src: &str) -> Result<(), TemplateError> {
        let trees = super::parse::parse(name, src)?;
        for (tname, nodes) in &trees {
            check_funcs(name, nodes)?;
            self.files.insert(tname.clone(), name.to_string());
        }
        self.trees.extend(trees);
        Ok(())
    }

    /// Renders template `name` with `data` as dot.
    pub fn render(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        let mut st = State {
            engine: self,
            file: self.files.get(name).cloned().unwrap_or_else(|| name.into()),
            vars: vec![("$".into(), data.clone())],
            out: String::new(),
            depth: 0,
        };
        let nodes = self
            .trees
            .get(name)
            .ok_or_else(|| TemplateError::at(name, 0, format!("no template {name:?}")))?;
        st.list(nodes, data)?;
        Ok(st.out)
    }
}

fn check_funcs(file: &str, nodes: &[Node]) -> Result<(), TemplateError> {
    fn pipe(file: &str, p: &Pipe) -> Result<(), TemplateError> {
        for cmd in &p.cmds {
            for a in cmd {
                match a {
                    Arg::Func(f) if !funcs::exists(f) => {
                        return Err(TemplateError::at(
                            file,
                            p.line,
                            format!("function {f:?} not defined"),
                        ))
                    }
                    Arg::Paren(inner, _) => pipe(file, inner)?,
                    _ => {}
                }
            }
        }
        Ok(())
    }
    for n in nodes {
        match n {
            Node::Action(p) => pipe(file, p)?,
            Node::Branch {
                pipe: p,
                list,
                else_list,
                ..
            } => {
                pipe(file, p)?;
                check_funcs(file, list)?;
                if let Some(e) = else_list {
                    check_funcs(file, e)?;
                }
            }
            Node::Template { pipe: Some(p), .. } => pipe(file, p)?,
            _ => {}
        }
    }
    Ok(())
}

impl State<'_> {
    fn err(&self, line: usize, msg: impl Into<String>) -> TemplateError {
        TemplateError::at(&self.file, line, msg.into())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let flow = self.list_inner(nodes, dot);
        self.vars.truncate(mark);
        flow
    }

    fn list_inner(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        print_value(&mut self.out, &v);
                    }
                }
                Node::Branch {
                    kind,
                    pipe,
                    list,
                    else_list,
                } => {
                    let mark = self.vars.len();
                    let flow = self.branch(*kind, pipe, list, else_list.as_deref(), dot);
                    self.vars.truncate(mark);
                    match flow? {
                        Flow::Normal => {}
                        f => return Ok(f),
                    }
                }
                Node::Template { line, name, pipe } => {
                    let data = match pipe {
                        Some(p) => self.pipe(p, dot)?,
                        None => Value::Null,
                    };
                    let engine = self.engine;
                    let nodes = engine
                        .trees
                        .get(name)
                        .ok_or_else(|| self.err(*line, format!("no such template {name:?}")))?;
                    if self.depth >= MAX_DEPTH / 1000 {
                        return Err(self.err(*line, "exceeded maximum template depth"));
                    }
                    let saved_vars =
                        std::mem::replace(&mut self.vars, vec![("$".into(), data.clone())]);
                    let saved_file = std::mem::replace(
                        &mut self.file,
                        engine
                            .files
                            .get(name)
                            .cloned()
                            .unwrap_or_else(|| name.clone()),
                    );
                    self.depth += 1;
                    let r = self.list(nodes, &data);
                    self.depth -= 1;
                    self.vars = saved_vars;
                    self.file = saved_file;
                    r?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn branch(
        &mut self,
        kind: BranchKind,
        pipe: &Pipe,
        list: &[Node],
        else_list: Option<&[Node]>,
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        if kind == BranchKind::Range {
            return self.range(pipe, list, else_list, dot);
        }
        let v = self.pipe(pipe, dot)?;
        if truthy(&v) {
            let new_dot = if kind == BranchKind::With { &v } else { dot };
            self.list(list, new_dot)
        } else if let Some(e) = else_list {
            self.list(e, dot)
        } else {
            Ok(Flow::Normal)
        }
    }

    fn range(
        &mut self,
        pipe: &Pipe,
        list: &[Node],
        else_list: Option<&[Node]>,
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        // Evaluate without declaring: range declares per iteration.
        let plain = Pipe {
            vars: Vec::new(),
            ..pipe.clone()
        };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::from(i), e.clone()))
                .collect(),
            Value::Object(m) => {
                let mut kv: Vec<_> = m.iter().collect();
                kv.sort_by(|a, b| a.0.cmp(b.0));
                kv.into_iter()
                    .map(|(k, e)| (Value::from(k.clone()), e.clone()))
                    .collect()
            }
            Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0).max(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(self.err(
                    pipe.line,
                    format!("range can't iterate over {}", display(other)),
                ))
            }
        };
        if items.is_empty() {
            return match else_list {
                Some(e) => self.list(e, dot),
                None => Ok(Flow::Normal),
            };
        }
        for (key, elem) in items {
            let mark = self.vars.len();
            match pipe.vars.as_slice() {
                [one] => self.vars.push((one.clone(), elem.clone())),
                [k, e] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((e.clone(), elem.clone()));
                }
                _ => {}
            }
            let flow = self.list(list, &elem);
            self.vars.truncate(mark);
            if let Flow::Break = flow? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value, pipe.line)?);
        }
        let v = value.unwrap_or(Value::Null);
        if pipe.assign {
            for name in &pipe.vars {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return Err(self.err(pipe.line, format!("undefined variable: {name}"))),
                }
            }
        } else {
            for name in &pipe.vars {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &[Arg],
        dot: &Value,
        piped: Option<Value>,
        line: usize,
    ) -> Result<Value, TemplateError> {
        if let Some(Arg::Func(name)) = cmd.first() {
            let rest = &cmd[1..];
            // `and`/`or` stop at the first deciding argument, as Go does.
            if name == "and" || name == "or" {
                let want = name == "or";
                let mut last = Value::Null;
                for a in rest {
                    last = self.arg(a, dot, line)?;
                    if truthy(&last) == want {
                        return Ok(last);
                    }
                }
                if let Some(p) = piped {
                    last = p;
                }
                return Ok(last);
            }
            let mut args = Vec::with_capacity(rest.len() + 1);
            for a in rest {
                args.push(self.arg(a, dot, line)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return self
                .engine
                .helpers
                .call(name, args)
                .map_err(|m| self.err(line, format!("error calling {name}: {m}")));
        }
        if cmd.len() > 1 || piped.is_some() {
            return Err(self.err(line, "can't give argument to non-function"));
        }
        self.arg(&cmd[0], dot, line)
    }

    fn arg(&mut self, arg: &Arg, dot: &Value, line: usize) -> Result<Value, TemplateError> {
        match arg {
            Arg::Dot(chain) => self.fields(dot.clone(), chain, line),
            Arg::Var(name, chain) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.err(line, format!("undefined variable: {name}")))?;
                self.fields(v, chain, line)
            }
            Arg::Str(s) => Ok(Value::String(s.clone())),
            Arg::Num(n) => {
                parse_number(n).ok_or_else(|| self.err(line, format!("bad number syntax: {n:?}")))
            }
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Ok(Value::Null),
            Arg::Func(name) => self
                .engine
                .helpers
                .call(name, Vec::new())
                .map_err(|m| self.err(line, format!("error calling {name}: {m}"))),
            Arg::Paren(p, chain) => {
                let v = self.pipe(p, dot)?;
                self.fields(v, chain, line)
            }
        }
    }

    fn fields(&self, mut v: Value, chain: &[String], line: usize) -> Result<Value, TemplateError> {
        for f in chain {
            v = match v {
                Value::Object(mut m) => m.remove(f).unwrap_or(Value::Null),
                Value::Null => {
                    return Err(self.err(line, format!("nil pointer evaluating interface {{}}.{f}")))
                }
                other => {
                    return Err(self.err(
                        line,
                        format!("can't evaluate field {f} in type {}", type_name(&other)),
                    ))
                }
            };
        }
        Ok(v)
    }
}

fn parse_number(n: &str) -> Option<Value> {
    let clean = n.replace('_', "");
    // Integer constants are Go `int`s, others `float64`s.
    if let Ok(i) = clean.parse::<i64>() {
        return Some(Value::from(i));
    }
    let (digits, negative) = match clean.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (clean.strip_prefix('+').unwrap_or(&clean), false),
    };
    let radix = [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ]
    .iter()
    .find_map(|(prefix, radix)| digits.strip_prefix(prefix).map(|d| (d, *radix)));
    if let Some((d, radix)) = radix {
        return i64::from_str_radix(d, radix)
            .ok()
            .map(|i| Value::from(if negative { -i } else { i }));
    }
    clean
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(float)
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn print_value(out: &mut String, v: &Value) {
    gofmt::print_value(out, v, true);
}
