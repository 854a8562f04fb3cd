//! A hand-written parser for pythonic calls: `[get_weather(city="Paris", days=3), now()]`.
//!
//! Argument values are Python literals: strings (single or double quoted, with escapes),
//! numbers, `True`/`False`/`None` (and their JSON spellings), lists, tuples and dicts. They map
//! to JSON; tuples become arrays. Literals nest at most [`MAX_DEPTH`] deep.

use serde_json::{Map, Number, Value};

use super::{short, sub, ParsedCall};

/// The deepest literal nesting accepted.
const MAX_DEPTH: usize = 128;

/// Whether `text` at `at` starts like a call list: `[`, then a (dotted) name directly
/// followed by `(`.
pub(super) fn looks_like_call_list(text: &str, at: usize) -> bool {
    let mut parser = Parser::new(text, at);
    if !parser.eat(b'[') {
        return false;
    }
    parser.skip_ws();
    parser.dotted_name().is_some() && parser.peek() == Some(b'(')
}

/// Whether all of `text` is one call list (or an unterminated one): it starts like a call list
/// and its brackets close exactly at the end, or never.
pub(super) fn is_whole_call_list(text: &str) -> bool {
    looks_like_call_list(text, 0) && skip_balanced(text, 0) == text.len()
}

/// Parses the call list that starts at `at`; returns the calls and the offset just past `]`.
pub(super) fn parse_list(text: &str, at: usize) -> Result<(Vec<ParsedCall>, usize), String> {
    let mut parser = Parser::new(text, at);
    parser.expect(b'[', "'['")?;
    let mut calls = Vec::new();
    loop {
        parser.skip_ws();
        if parser.eat(b']') {
            break;
        }
        calls.push(parser.call()?);
        parser.skip_ws();
        if parser.eat(b',') {
            continue;
        }
        parser.expect(b']', "',' or ']'")?;
        break;
    }
    Ok((calls, parser.pos))
}

/// Parses calls without list brackets, separated by `,` or `;`: `brave_search.call(query="x")`.
pub(super) fn parse_bare(text: &str) -> Result<Vec<ParsedCall>, String> {
    let mut parser = Parser::new(text, 0);
    let mut calls = Vec::new();
    loop {
        parser.skip_ws();
        if parser.peek().is_none() {
            return Ok(calls);
        }
        calls.push(parser.call()?);
        parser.skip_ws();
        if !(parser.eat(b',') || parser.eat(b';') || parser.peek().is_none()) {
            return Err(parser.unexpected("',' or the end of the calls"));
        }
    }
}

/// The offset just past the bracket that closes the one at `at` (any of `([{` matches any of
/// `)]}`), skipping quoted strings; the text length if it never closes.
pub(super) fn skip_balanced(text: &str, at: usize) -> usize {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for (offset, byte) in text.bytes().enumerate().skip(at) {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == open {
                quote = None;
            }
            continue;
        }
        match byte {
            b'"' | b'\'' => quote = Some(byte),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return offset + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// A cursor over the text. All syntax is ASCII, so byte offsets stay on char boundaries.
struct Parser<'a> {
    /// The whole text.
    text: &'a str,
    /// Byte offset of the next unread byte.
    pos: usize,
    /// Current literal nesting.
    depth: usize,
}

impl<'a> Parser<'a> {
    /// A parser reading `text` from `pos`.
    fn new(text: &'a str, pos: usize) -> Self {
        Parser {
            text,
            pos,
            depth: 0,
        }
    }

    /// The next byte.
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Consumes `byte` or fails, describing it as `what`.
    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// An error saying `what` was expected at the current position.
    fn unexpected(&self, what: &str) -> String {
        match sub(self.text, self.pos..self.text.len()).chars().next() {
            Some(found) => format!("expected {what}, found {found:?}"),
            None => format!("expected {what}, found the end"),
        }
    }

    /// Skips whitespace.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Reads an ASCII identifier.
    fn ident(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_')) {
            return None;
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_')
        ) {
            self.pos += 1;
        }
        Some(sub(self.text, start..self.pos))
    }

    /// Reads a dotted name such as `brave_search.call`.
    fn dotted_name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.ident()?;
        loop {
            let before_dot = self.pos;
            if !(self.eat(b'.') && self.ident().is_some()) {
                self.pos = before_dot;
                return Some(sub(self.text, start..self.pos));
            }
        }
    }

    /// Reads `name(key=value, ...)`. A trailing `.call` is dropped from the name.
    fn call(&mut self) -> Result<ParsedCall, String> {
        let name = self
            .dotted_name()
            .ok_or_else(|| self.unexpected("a function name"))?;
        self.skip_ws();
        self.expect(b'(', "'('")?;
        let mut arguments = Map::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                break;
            }
            let key = self
                .keyword()
                .ok_or_else(|| format!("positional argument in the call to {}", short(name)))?;
            self.skip_ws();
            let value = self.value()?;
            if arguments.insert(key.to_string(), value).is_some() {
                return Err(format!("repeated keyword argument {}", short(key)));
            }
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.expect(b')', "',' or ')'")?;
            break;
        }
        let name = name.strip_suffix(".call").unwrap_or(name);
        Ok(ParsedCall {
            name: name.to_string(),
            arguments: Value::Object(arguments),
        })
    }

    /// Reads `key =`, or nothing (leaving the position) if the next argument is positional.
    fn keyword(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let key = self.ident();
        self.skip_ws();
        let is_keyword =
            self.peek() == Some(b'=') && self.text.as_bytes().get(self.pos + 1) != Some(&b'=');
        if key.is_some() && is_keyword {
            self.pos += 1;
            key
        } else {
            self.pos = start;
            None
        }
    }

    /// Reads a Python literal.
    fn value(&mut self) -> Result<Value, String> {
        if self.depth >= MAX_DEPTH {
            return Err("values nested too deeply".to_string());
        }
        match self.peek() {
            Some(quote @ (b'"' | b'\'')) => self.string(quote).map(Value::String),
            Some(b'[') => self.sequence(b']'),
            Some(b'(') => self.sequence(b')'),
            Some(b'{') => self.dict(),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number(),
            _ => match self.ident() {
                Some("True" | "true") => Ok(Value::Bool(true)),
                Some("False" | "false") => Ok(Value::Bool(false)),
                Some("None" | "null") => Ok(Value::Null),
                Some(other) => Err(format!("unsupported value {}", short(other))),
                None => Err(self.unexpected("a value")),
            },
        }
    }

    /// Reads a list (`close` is `]`) or a tuple (`close` is `)`); `(x)` without a comma is
    /// just `x`.
    fn sequence(&mut self, close: u8) -> Result<Value, String> {
        self.pos += 1;
        self.depth += 1;
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.skip_ws();
            if self.eat(close) {
                break;
            }
            items.push(self.value()?);
            self.skip_ws();
            if self.eat(b',') {
                saw_comma = true;
                continue;
            }
            self.expect(
                close,
                if close == b']' {
                    "',' or ']'"
                } else {
                    "',' or ')'"
                },
            )?;
            break;
        }
        self.depth -= 1;
        if close == b')' && !saw_comma && items.len() == 1 {
            return Ok(items.pop().unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    /// Reads a dict; keys that are not strings are written as JSON (`1` → `"1"`).
    fn dict(&mut self) -> Result<Value, String> {
        self.pos += 1;
        self.depth += 1;
        let mut object = Map::new();
        loop {
            self.skip_ws();
            if self.eat(b'}') {
                break;
            }
            let key = match self.value()? {
                Value::String(key) => key,
                key @ (Value::Number(_) | Value::Bool(_) | Value::Null) => key.to_string(),
                Value::Array(_) | Value::Object(_) => return Err("unhashable dict key".to_string()),
            };
            self.skip_ws();
            self.expect(b':', "':'")?;
            self.skip_ws();
            let value = self.value()?;
            object.insert(key, value);
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.expect(b'}', "',' or '}'")?;
            break;
        }
        self.depth -= 1;
        Ok(Value::Object(object))
    }

    /// Reads an integer or a float (`-12`, `3.5`, `1e-3`, `1_000`).
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let mut is_float = false;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while let Some(byte) = self.peek() {
            match byte {
                b'0'..=b'9' | b'_' => {}
                b'.' => is_float = true,
                b'e' | b'E' => {
                    is_float = true;
                    if matches!(self.text.as_bytes().get(self.pos + 1), Some(b'-' | b'+')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        let literal = sub(self.text, start..self.pos).replace('_', "");
        let literal = literal.strip_prefix('+').unwrap_or(&literal);
        if !is_float {
            if let Ok(int) = literal.parse::<i64>() {
                return Ok(Value::from(int));
            }
            if let Ok(int) = literal.parse::<u64>() {
                return Ok(Value::from(int));
            }
        }
        literal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("invalid number {}", short(literal)))
    }

    /// Reads a string quoted with `quote`, decoding escapes.
    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while !matches!(self.peek(), None | Some(b'\\')) && self.peek() != Some(quote) {
                self.pos += 1;
            }
            out.push_str(sub(self.text, start..self.pos));
            match self.peek() {
                None => return Err("unterminated string".to_string()),
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    self.pos += 1;
                    return Ok(out);
                }
            }
        }
    }

    /// Decodes the escape after a backslash into `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(escaped) = sub(self.text, self.pos..self.text.len()).chars().next() else {
            return Err("unterminated string".to_string());
        };
        self.pos += escaped.len_utf8();
        match escaped {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\n' => {} // line continuation
            'x' => out.push(self.code_point(2)?),
            'u' => out.push(self.utf16_escape()?),
            'U' => out.push(self.code_point(8)?),
            '\\' | '\'' | '"' => out.push(escaped),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
        Ok(())
    }

    /// Reads `digits` hex digits as a code point; invalid ones become U+FFFD.
    fn code_point(&mut self, digits: usize) -> Result<char, String> {
        Ok(char::from_u32(self.hex(digits)?).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Reads the 4 hex digits after `\u`, joining a UTF-16 surrogate pair written as
    /// `\uD83D\uDE00`; a lone surrogate becomes U+FFFD.
    fn utf16_escape(&mut self) -> Result<char, String> {
        let high = self.hex(4)?;
        if (0xD800..0xDC00).contains(&high) && sub(self.text, self.pos..self.pos + 2) == "\\u" {
            let after_high = self.pos;
            self.pos += 2;
            let low = self.hex(4)?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = after_high;
        }
        Ok(char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Reads exactly `digits` hex digits.
    fn hex(&mut self, digits: usize) -> Result<u32, String> {
        let hex = sub(self.text, self.pos..self.pos + digits);
        if hex.len() != digits || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err("invalid escape in string".to_string());
        }
        self.pos += digits;
        u32::from_str_radix(hex, 16).map_err(|_| "invalid escape in string".to_string())
    }
}
