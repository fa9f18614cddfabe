//! Lexer for Go `text/template`: splits text and `{{ actions }}` (with `{{-`/`-}}` trim
//! markers and `/* comments */`) into tokens carrying their line numbers.

use super::TemplateError;

/// One token of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Literal text between actions.
    Text(String),
    /// `{{`
    Open,
    /// `}}`
    Close,
    /// A bare word: keyword, function name, `true`, `false`, `nil`.
    Ident(String),
    /// `.` alone.
    Dot,
    /// `.name` (one field step; chains are consecutive tokens without spaces).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A number literal as written.
    Number(String),
    /// `|`
    Pipe,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// `,`
    Comma,
    /// Whitespace inside an action (separates arguments).
    Space,
}

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// 1-based line number.
    pub line: usize,
}

/// Splits a template into tokens.
pub fn lex(name: &str, src: &str) -> Result<Vec<Token>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut line = 1;
    let err = |line: usize, msg: String| TemplateError::at(name, line, msg);
    while !rest.is_empty() {
        let Some(start) = rest.find("{{") else {
            out.push(Token {
                tok: Tok::Text(rest.to_string()),
                line,
            });
            break;
        };
        let mut text = &rest[..start];
        let after = &rest[start + 2..];
        let trim_left = after.starts_with("- ")
            || after.starts_with("-\t")
            || after.starts_with("-\n")
            || after.starts_with("-\r");
        if trim_left {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            out.push(Token {
                tok: Tok::Text(text.to_string()),
                line,
            });
        }
        line += rest[..start].matches('\n').count();
        let mut body = if trim_left { &after[2..] } else { after };
        if trim_left {
            line += after[..2].matches('\n').count();
        }
        // Comments: {{/* ... */}} with optional trim markers.
        let trimmed = body.trim_start();
        if trimmed.starts_with("/*") {
            let Some(end) = trimmed.find("*/") else {
                return Err(err(line, "unclosed comment".into()));
            };
            let after_comment = trimmed[end + 2..].trim_start();
            let (trim_right, tail) = if let Some(t) = after_comment.strip_prefix("-}}") {
                (true, t)
            } else if let Some(t) = after_comment.strip_prefix("}}") {
                (false, t)
            } else {
                return Err(err(line, "comment ends before closing delimiter".into()));
            };
            line += body[..body.len() - tail.len()].matches('\n').count();
            rest = if trim_right {
                let t = tail.trim_start_matches([' ', '\t', '\r', '\n']);
                line += tail[..tail.len() - t.len()].matches('\n').count();
                t
            } else {
                tail
            };
            continue;
        }
        out.push(Token {
            tok: Tok::Open,
            line,
        });
        loop {
            if body.is_empty() {
                return Err(err(line, "unclosed action".into()));
            }
            if let Some(t) = body.strip_prefix("}}") {
                out.push(Token {
                    tok: Tok::Close,
                    line,
                });
                body = t;
                break;
            }
            let c = body.chars().next().unwrap_or(' ');
            if c.is_whitespace() {
                let t = body.trim_start();
                let ws = &body[..body.len() - t.len()];
                // ` -}}` closes with right trim.
                if let Some(t2) = t.strip_prefix("-}}") {
                    line += ws.matches('\n').count();
                    out.push(Token {
                        tok: Tok::Close,
                        line,
                    });
                    let t3 = t2.trim_start_matches([' ', '\t', '\r', '\n']);
                    line += t2[..t2.len() - t3.len()].matches('\n').count();
                    body = t3;
                    break;
                }
                line += ws.matches('\n').count();
                out.push(Token {
                    tok: Tok::Space,
                    line,
                });
                body = t;
                continue;
            }
            let (tok, len) = match c {
                '|' => (Tok::Pipe, 1),
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                ',' => (Tok::Comma, 1),
                ':' if body.starts_with(":=") => (Tok::Declare, 2),
                '=' => (Tok::Assign, 1),
                '"' => {
                    let (s, len) = quoted(body).map_err(|m| err(line, m))?;
                    (Tok::Str(s), len)
                }
                '`' => {
                    let Some(end) = body[1..].find('`') else {
                        return Err(err(line, "unterminated raw quoted string".into()));
                    };
                    let s = &body[1..=end];
                    line += s.matches('\n').count();
                    (Tok::Str(s.to_string()), end + 2)
                }
                '.' => {
                    let n = word_len(&body[1..]);
                    if n == 0 {
                        if body[1..].starts_with(|c: char| c.is_ascii_digit()) {
                            let n = number_len(body);
                            (Tok::Number(body[..n].to_string()), n)
                        } else {
                            (Tok::Dot, 1)
                        }
                    } else {
                        (Tok::Field(body[1..=n].to_string()), n + 1)
                    }
                }
                '$' => {
                    let n = word_len(&body[1..]);
                    (Tok::Var(body[..=n].to_string()), n + 1)
                }
                c if c.is_ascii_digit() || c == '-' || c == '+' => {
                    let n = number_len(body);
                    if n == 0 {
                        return Err(err(line, format!("unexpected {c:?} in command")));
                    }
                    (Tok::Number(body[..n].to_string()), n)
                }
                '\'' => {
                    let end = body[1..]
                        .find('\'')
                        .ok_or_else(|| err(line, "unterminated character constant".into()))?;
                    let ch = body[1..=end].chars().next().map_or(0, u32::from);
                    (Tok::Number(ch.to_string()), end + 2)
                }
                c if c.is_alphabetic() || c == '_' => {
                    let n = word_len(body);
                    (Tok::Ident(body[..n].to_string()), n)
                }
                c => return Err(err(line, format!("unexpected {c:?} in command"))),
            };
            out.push(Token { tok, line });
            body = &body[len..];
        }
        rest = body;
    }
    Ok(out)
}

fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i)
}

fn number_len(s: &str) -> usize {
    let mut n = 0;
    let b = s.as_bytes();
    if n < b.len() && (b[n] == b'-' || b[n] == b'+') {
        n += 1;
    }
    let digits_start = n;
    while n < b.len()
        && (b[n].is_ascii_alphanumeric()
            || b[n] == b'.'
            || b[n] == b'_'
            || ((b[n] == b'-' || b[n] == b'+') && matches!(b[n - 1], b'e' | b'E')))
    {
        n += 1;
    }
    if n == digits_start {
        0
    } else {
        n
    }
}

fn quoted(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('\'') => out.push('\''),
                Some('u') => {
                    let hex: String = (0..4)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("invalid \\u escape")?;
                    out.push(ch);
                }
                Some(c) => return Err(format!("unknown escape sequence \\{c}")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex("t", s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn trims_and_fields() {
        assert_eq!(
            toks("a  {{- .x.y -}}\n b"),
            vec![
                Tok::Text("a".into()),
                Tok::Open,
                Tok::Field("x".into()),
                Tok::Field("y".into()),
                Tok::Close,
                Tok::Text("b".into()),
            ]
        );
    }

    #[test]
    fn comments_vanish_and_lines_count() {
        let t = lex("t", "x\n{{/* c\n */}}\n{{ $a := \"q\\n\" }}").unwrap();
        let open = t.iter().find(|t| t.tok == Tok::Open).unwrap();
        assert_eq!(open.line, 4);
        assert!(t.iter().any(|t| t.tok == Tok::Str("q\n".into())));
    }

    #[test]
    fn unclosed_action_is_an_error() {
        let e = lex("f.tmpl", "\n\n{{ .x ").unwrap_err();
        assert_eq!(e.to_string(), "template: f.tmpl:3: unclosed action");
    }
}
