//! Parser for Go `text/template`: tokens -> a tree per template name (the main one and
//! every `define`/`block`).

use std::collections::HashMap;

use super::lex::{lex, Tok, Token};
use super::TemplateError;

/// A node of a template body.
#[derive(Debug, Clone)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`: printed unless it declares variables.
    Action(Pipe),
    /// `if`, `with`, `range`.
    Branch {
        /// Which construct.
        kind: BranchKind,
        /// The condition / value.
        pipe: Pipe,
        /// Body.
        list: Vec<Node>,
        /// `else` body.
        else_list: Option<Vec<Node>>,
    },
    /// `{{ template "name" pipeline }}`.
    Template {
        /// Line of the action.
        line: usize,
        /// Template name.
        name: String,
        /// Its data.
        pipe: Option<Pipe>,
    },
    /// `{{ break }}`
    Break,
    /// `{{ continue }}`
    Continue,
}

/// The three control constructs with bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchKind {
    /// `if`
    If,
    /// `with`
    With,
    /// `range`
    Range,
}

/// A pipeline with its optional variable declarations.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Line of the action.
    pub line: usize,
    /// Declared or assigned variables (`$x :=`, `$i, $e :=`).
    pub vars: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    /// Commands separated by `|`.
    pub cmds: Vec<Vec<Arg>>,
}

/// One operand of a command.
#[derive(Debug, Clone)]
pub enum Arg {
    /// `.`, or `.a.b` when the chain is not empty.
    Dot(Vec<String>),
    /// `$x.a.b`
    Var(String, Vec<String>),
    /// A string literal.
    Str(String),
    /// A number literal.
    Num(String),
    /// `true` / `false`
    Bool(bool),
    /// `nil`
    Nil,
    /// A function name.
    Func(String),
    /// `(pipeline).a.b`
    Paren(Box<Pipe>, Vec<String>),
}

/// Every template tree of a source, by name.
pub type Trees = HashMap<String, Vec<Node>>;

/// Parses `src` as template `name`; `define`d templates are returned beside it.
pub fn parse(name: &str, src: &str) -> Result<Trees, TemplateError> {
    let tokens = lex(name, src)?;
    let mut p = Parser {
        name,
        tokens,
        pos: 0,
        trees: HashMap::new(),
    };
    let (list, end) = p.list(true)?;
    match end {
        Stop::Eof => {}
        Stop::End(line) => return Err(p.err(line, "unexpected {{end}}")),
        Stop::Else(line, _) => return Err(p.err(line, "unexpected {{else}}")),
    }
    let mut trees = p.trees;
    trees.insert(name.to_string(), list);
    Ok(trees)
}

enum Stop {
    Eof,
    End(usize),
    /// `else`, with `if`/`with` when it chains.
    Else(usize, Option<BranchKind>),
}

struct Parser<'a> {
    name: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    trees: Trees,
}

impl Parser<'_> {
    fn err(&self, line: usize, msg: impl Into<String>) -> TemplateError {
        TemplateError::at(self.name, line, msg.into())
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(&Tok::Space) {
            self.pos += 1;
        }
    }

    fn expect_close(&mut self, what: &str) -> Result<(), TemplateError> {
        self.skip_space();
        let line = self.line();
        match self.next() {
            Some(Tok::Close) => Ok(()),
            other => Err(self.err(line, format!("unexpected {other:?} in {what}"))),
        }
    }

    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut out = Vec::new();
        loop {
            let line = self.line();
            match self.next() {
                None => return Ok((out, Stop::Eof)),
                Some(Tok::Text(t)) => out.push(Node::Text(t)),
                Some(Tok::Open) => {
                    self.skip_space();
                    let keyword = match self.peek() {
                        Some(Tok::Ident(k)) => Some(k.clone()),
                        _ => None,
                    };
                    match keyword.as_deref() {
                        Some("end") => {
                            self.pos += 1;
                            self.expect_close("end")?;
                            return Ok((out, Stop::End(line)));
                        }
                        Some("else") => {
                            self.pos += 1;
                            self.skip_space();
                            let chained = match self.peek() {
                                Some(Tok::Ident(k)) if k == "if" => Some(BranchKind::If),
                                Some(Tok::Ident(k)) if k == "with" => Some(BranchKind::With),
                                _ => None,
                            };
                            if chained.is_some() {
                                self.pos += 1;
                            } else {
                                self.expect_close("else")?;
                            }
                            return Ok((out, Stop::Else(line, chained)));
                        }
                        Some("if") => {
                            self.pos += 1;
                            out.push(self.branch(BranchKind::If, line)?);
                        }
                        Some("with") => {
                            self.pos += 1;
                            out.push(self.branch(BranchKind::With, line)?);
                        }
                        Some("range") => {
                            self.pos += 1;
                            out.push(self.branch(BranchKind::Range, line)?);
                        }
                        Some("break") | Some("continue") => {
                            let brk = keyword.as_deref() == Some("break");
                            self.pos += 1;
                            self.expect_close("break/continue")?;
                            out.push(if brk { Node::Break } else { Node::Continue });
                        }
                        Some("template") => {
                            self.pos += 1;
                            let (name, pipe) = self.template_call(line)?;
                            out.push(Node::Template { line, name, pipe });
                        }
                        Some("define") | Some("block") => {
                            let block = keyword.as_deref() == Some("block");
                            if !top && !block {
                                return Err(self.err(line, "unexpected define clause"));
                            }
                            self.pos += 1;
                            let (name, pipe) = if block {
                                self.template_call(line)?
                            } else {
                                self.skip_space();
                                let n = match self.next() {
                                    Some(Tok::Str(s)) => s,
                                    _ => return Err(self.err(line, "define needs a quoted name")),
                                };
                                self.expect_close("define")?;
                                (n, None)
                            };
                            let (body, end) = self.list(false)?;
                            if !matches!(end, Stop::End(_)) {
                                return Err(self.err(line, format!("unterminated {name:?}")));
                            }
                            self.trees.insert(name.clone(), body);
                            if block {
                                out.push(Node::Template { line, name, pipe });
                            }
                        }
                        _ => {
                            let pipe = self.pipeline(line)?;
                            self.expect_close("command")?;
                            out.push(Node::Action(pipe));
                        }
                    }
                }
                Some(other) => return Err(self.err(line, format!("unexpected {other:?}"))),
            }
        }
    }

    fn template_call(&mut self, line: usize) -> Result<(String, Option<Pipe>), TemplateError> {
        self.skip_space();
        let name = match self.next() {
            Some(Tok::Str(s)) => s,
            _ => return Err(self.err(line, "template needs a quoted name")),
        };
        self.skip_space();
        if self.peek() == Some(&Tok::Close) {
            self.pos += 1;
            return Ok((name, None));
        }
        let pipe = self.pipeline(line)?;
        self.expect_close("template clause")?;
        Ok((name, Some(pipe)))
    }

    fn branch(&mut self, kind: BranchKind, line: usize) -> Result<Node, TemplateError> {
        let pipe = self.pipeline(line)?;
        self.expect_close("control")?;
        let (list, end) = self.list(false)?;
        let else_list = match end {
            Stop::Eof => return Err(self.err(line, "unexpected EOF")),
            Stop::End(_) => None,
            Stop::Else(_, None) => {
                let (l, end) = self.list(false)?;
                if !matches!(end, Stop::End(_)) {
                    return Err(self.err(line, "expected end; found else or EOF"));
                }
                Some(l)
            }
            Stop::Else(eline, Some(k)) => Some(vec![self.branch(k, eline)?]),
        };
        Ok(Node::Branch {
            kind,
            pipe,
            list,
            else_list,
        })
    }

    /// A pipeline, up to (not including) `}}` or `)`.
    fn pipeline(&mut self, line: usize) -> Result<Pipe, TemplateError> {
        self.skip_space();
        let mut pipe = Pipe {
            line,
            vars: Vec::new(),
            assign: false,
            cmds: Vec::new(),
        };
        {
            // Look ahead for `$a :=`, `$a =`, `$a, $b :=`.
            let save = self.pos;
            let mut vars = Vec::new();
            while let Some(Tok::Var(v)) = self.next() {
                vars.push(v);
                self.skip_space();
                match self.peek() {
                    Some(Tok::Comma) => {
                        self.pos += 1;
                        self.skip_space();
                    }
                    Some(Tok::Declare) | Some(Tok::Assign) => {
                        pipe.assign = self.peek() == Some(&Tok::Assign);
                        self.pos += 1;
                        pipe.vars = std::mem::take(&mut vars);
                        break;
                    }
                    _ => break,
                }
            }
            if pipe.vars.is_empty() {
                self.pos = save;
            } else if pipe.vars.len() > 2 {
                return Err(self.err(line, "too many declarations in command"));
            }
        }
        loop {
            self.skip_space();
            let cmd = self.command(line)?;
            if cmd.is_empty() {
                return Err(self.err(line, "missing value for command"));
            }
            pipe.cmds.push(cmd);
            self.skip_space();
            if self.peek() == Some(&Tok::Pipe) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(pipe)
    }

    fn command(&mut self, line: usize) -> Result<Vec<Arg>, TemplateError> {
        let mut args = Vec::new();
        loop {
            self.skip_space();
            let arg = match self.peek().cloned() {
                None | Some(Tok::Close) | Some(Tok::RParen) | Some(Tok::Pipe) => break,
                Some(Tok::Dot) => {
                    self.pos += 1;
                    Arg::Dot(Vec::new())
                }
                Some(Tok::Field(_)) => Arg::Dot(self.chain()),
                Some(Tok::Var(v)) => {
                    self.pos += 1;
                    Arg::Var(v, self.chain())
                }
                Some(Tok::Str(s)) => {
                    self.pos += 1;
                    Arg::Str(s)
                }
                Some(Tok::Number(n)) => {
                    self.pos += 1;
                    Arg::Num(n)
                }
                Some(Tok::Ident(i)) => {
                    self.pos += 1;
                    match i.as_str() {
                        "true" => Arg::Bool(true),
                        "false" => Arg::Bool(false),
                        "nil" => Arg::Nil,
                        _ => Arg::Func(i),
                    }
                }
                Some(Tok::LParen) => {
                    self.pos += 1;
                    let inner = self.pipeline(self.line())?;
                    self.skip_space();
                    if self.next() != Some(Tok::RParen) {
                        return Err(self.err(line, "unclosed left paren"));
                    }
                    Arg::Paren(Box::new(inner), self.chain())
                }
                Some(t) => return Err(self.err(line, format!("unexpected {t:?} in operand"))),
            };
            args.push(arg);
        }
        Ok(args)
    }

    fn chain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(Tok::Field(f)) = self.peek() {
            out.push(f.clone());
            self.pos += 1;
        }
        out
    }
}
