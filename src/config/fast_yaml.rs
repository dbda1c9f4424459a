//! A fast path for the block YAML people write: a borrowed tree and a serde `Deserializer` over
//! it that resolves scalars exactly like serde_yaml 0.9. libyaml's scanner dominates config
//! loading (~70 ms for 10,000 roles); this parser takes a few ms. Anything outside its subset is
//! declined, and so is any deserialization error: the caller then runs serde_yaml, so every
//! message and location stays serde_yaml's and this file only has to be right when it succeeds.

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// `Some` when the fast path parsed and deserialized `text`; `None` means "ask serde_yaml".
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    let document = parse(text).ok()?;
    T::deserialize(NodeDe(&document)).ok()
}

/// The input is outside the subset, or deserialization failed: use serde_yaml instead.
#[derive(Debug)]
pub(crate) struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("outside the fast YAML subset")
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Declined
    }
}

#[derive(Debug, PartialEq)]
enum Node<'a> {
    /// A document with no content; serde_yaml's `Event::Void`.
    Void,
    /// `plain` decides resolution: only plain scalars can be null, bool or a number.
    Scalar {
        text: Cow<'a, str>,
        plain: bool,
    },
    Seq(Vec<Node<'a>>),
    /// Keys are always scalars here. Duplicate keys are kept in order, as libyaml reports them:
    /// serde_yaml's deserializer does not check them either, so the visitor decides alike.
    Map(Vec<(Node<'a>, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn plain(text: &'a str) -> Self {
        Node::Scalar {
            text: Cow::Borrowed(text),
            plain: true,
        }
    }
}

/// serde_yaml stops at 128 levels; staying well below keeps us out of its error path.
const MAX_DEPTH: usize = 64;

/// libyaml rejects simple keys longer than 1024 characters.
const MAX_KEY_BYTES: usize = 1000;

/// A line with content: its indentation and its text after the indentation.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

fn parse(text: &str) -> Result<Node<'_>, Declined> {
    check_characters(text)?;
    let mut lines = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
    for raw in text.split('\n') {
        let body = raw.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        // Document markers at column 0 belong to multi-document streams.
        if raw.starts_with("---") || raw.starts_with("...") {
            return Err(Declined);
        }
        lines.push(Line {
            indent: raw.len() - body.len(),
            text: body,
        });
    }
    if lines.is_empty() {
        return Ok(Node::Void);
    }
    let mut parser = Parser {
        lines,
        pos: 0,
        depth: 0,
        items: Vec::new(),
        entries: Vec::new(),
    };
    let node = parser.block_node(None)?;
    if parser.pos != parser.lines.len() {
        return Err(Declined);
    }
    Ok(node)
}

/// Tabs, carriage returns, control characters, a BOM and the Unicode line separators each
/// change how libyaml splits or accepts the text; files with them take the full parser.
fn check_characters(text: &str) -> Result<(), Declined> {
    // Folding whole chunks without an early exit lets the compiler vectorise the scan.
    let control = text.as_bytes().chunks(64).any(|chunk| {
        chunk.iter().fold(false, |found, &b| {
            found | ((b < 0x20) & (b != b'\n')) | (b == 0x7f)
        })
    });
    if control {
        return Err(Declined);
    }
    if !text.is_ascii()
        && text.chars().any(|c| {
            matches!(
                c,
                '\u{80}'
                    ..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
        })
    {
        return Err(Declined);
    }
    Ok(())
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    depth: usize,
    /// Stacks the collections being read push onto, so that each collection allocates once,
    /// at its final size: allocation and freeing were a third of the time.
    items: Vec<Node<'a>>,
    entries: Vec<(Node<'a>, Node<'a>)>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// The node starting at the current line, which is indented more than `parent`.
    fn block_node(&mut self, parent: Option<usize>) -> Result<Node<'a>, Declined> {
        let line = self.peek().ok_or(Declined)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        let node = if is_dash(line.text) {
            self.block_seq(line.indent)?
        } else if let Some(first) = split_key(line.text)? {
            self.block_map(line.indent, first)?
        } else {
            self.pos += 1;
            let node = self.inline_value(line.text)?;
            // A deeper line would continue a multi-line scalar (or be an error).
            if self
                .peek()
                .is_some_and(|next| parent.is_none_or(|p| next.indent > p))
            {
                return Err(Declined);
            }
            node
        };
        self.depth -= 1;
        Ok(node)
    }

    fn block_seq(&mut self, indent: usize) -> Result<Node<'a>, Declined> {
        let base = self.items.len();
        while let Some(line) = self
            .peek()
            .filter(|l| l.indent == indent && is_dash(l.text))
        {
            let after_dash = &line.text[1..];
            let rest = after_dash.trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.pos += 1;
                match self.peek() {
                    Some(next) if next.indent > indent => {
                        let item = self.block_node(Some(indent))?;
                        self.items.push(item);
                    }
                    _ => self.items.push(Node::plain("")),
                }
            } else if is_dash(rest) {
                return Err(Declined);
            } else {
                // `- name: x`: the rest of the line is a node at its own column, and a compact
                // mapping continues on the following lines at that column.
                let column = indent + 1 + (after_dash.len() - rest.len());
                self.lines[self.pos] = Line {
                    indent: column,
                    text: rest,
                };
                let item = self.block_node(Some(indent))?;
                self.items.push(item);
            }
            if self.peek().is_some_and(|next| next.indent > indent) {
                return Err(Declined);
            }
        }
        Ok(Node::Seq(self.items.split_off(base)))
    }

    /// A block mapping whose first line, split into key and rest, is the current line.
    fn block_map(
        &mut self,
        indent: usize,
        first: (Node<'a>, &'a str),
    ) -> Result<Node<'a>, Declined> {
        let base = self.entries.len();
        let mut entry = Some(first);
        loop {
            let (key, rest) = match entry.take() {
                Some(first) => first,
                None => match self.peek().filter(|l| l.indent == indent) {
                    Some(line) => split_key(line.text)?.ok_or(Declined)?,
                    None => break,
                },
            };
            self.pos += 1;
            let rest = rest.trim_start_matches(' ');
            let value = if rest.is_empty() || rest.starts_with('#') {
                match self.peek() {
                    Some(next) if next.indent > indent => self.block_node(Some(indent))?,
                    // YAML lets a sequence under a key start at the key's own column.
                    Some(next) if next.indent == indent && is_dash(next.text) => {
                        self.block_seq(indent)?
                    }
                    _ => Node::plain(""),
                }
            } else {
                self.inline_value(rest)?
            };
            self.entries.push((key, value));
            // A deeper line would continue a multi-line scalar (or be an error).
            if self.peek().is_some_and(|next| next.indent > indent) {
                return Err(Declined);
            }
        }
        Ok(Node::Map(self.entries.split_off(base)))
    }

    /// A value written after `key: ` or `- `, or alone on a line: a scalar or a one-line flow
    /// collection, followed by nothing or a comment.
    fn inline_value(&mut self, text: &'a str) -> Result<Node<'a>, Declined> {
        let mut end = 0;
        let node = match text.as_bytes().first() {
            Some(b'[' | b'{' | b'"' | b'\'') => self.flow_node(text, &mut end)?,
            _ => {
                if !plain_may_start(text) {
                    return Err(Declined);
                }
                let bytes = text.as_bytes();
                end = text.len();
                for (i, &b) in bytes.iter().enumerate() {
                    // `a: b` in a value is a nested mapping libyaml rejects in this position.
                    if b == b':' && matches!(bytes.get(i + 1), None | Some(b' ')) {
                        return Err(Declined);
                    }
                    if b == b'#' && i > 0 && bytes[i - 1] == b' ' {
                        end = i;
                        break;
                    }
                }
                return Ok(Node::plain(text[..end].trim_end_matches(' ')));
            }
        };
        let rest = &text[end..];
        let after_spaces = rest.trim_start_matches(' ');
        if after_spaces.is_empty()
            || (after_spaces.starts_with('#') && after_spaces.len() < rest.len())
        {
            Ok(node)
        } else {
            Err(Declined)
        }
    }

    /// A node inside a one-line flow collection (or a quoted scalar), starting at `*pos`.
    fn flow_node(&mut self, text: &'a str, pos: &mut usize) -> Result<Node<'a>, Declined> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        let bytes = text.as_bytes();
        let node = match bytes.get(*pos) {
            Some(b'[') => {
                *pos += 1;
                let base = self.items.len();
                loop {
                    skip_spaces(bytes, pos);
                    if bytes.get(*pos) == Some(&b']') {
                        *pos += 1;
                        break;
                    }
                    let item = self.flow_node(text, pos)?;
                    self.items.push(item);
                    skip_spaces(bytes, pos);
                    match bytes.get(*pos) {
                        Some(b',') => *pos += 1,
                        Some(b']') => {
                            *pos += 1;
                            break;
                        }
                        _ => return Err(Declined),
                    }
                }
                Node::Seq(self.items.split_off(base))
            }
            Some(b'{') => {
                *pos += 1;
                let base = self.entries.len();
                loop {
                    skip_spaces(bytes, pos);
                    if bytes.get(*pos) == Some(&b'}') {
                        *pos += 1;
                        break;
                    }
                    let start = *pos;
                    let key = match bytes.get(*pos) {
                        Some(b'[' | b'{') => return Err(Declined),
                        _ => self.flow_node(text, pos)?,
                    };
                    if *pos - start > MAX_KEY_BYTES || !text[*pos..].starts_with(": ") {
                        return Err(Declined);
                    }
                    *pos += 1;
                    skip_spaces(bytes, pos);
                    // `{ a: , b }` has null values; rare, so left to serde_yaml.
                    if matches!(bytes.get(*pos), None | Some(b',' | b'}')) {
                        return Err(Declined);
                    }
                    let value = self.flow_node(text, pos)?;
                    self.entries.push((key, value));
                    skip_spaces(bytes, pos);
                    match bytes.get(*pos) {
                        Some(b',') => *pos += 1,
                        Some(b'}') => {
                            *pos += 1;
                            break;
                        }
                        _ => return Err(Declined),
                    }
                }
                Node::Map(self.entries.split_off(base))
            }
            Some(b'"' | b'\'') => quoted(text, pos)?,
            _ => {
                let rest = &text[*pos..];
                if !plain_may_start(rest) {
                    return Err(Declined);
                }
                let rest_bytes = rest.as_bytes();
                let mut end = rest.len();
                for (i, &b) in rest_bytes.iter().enumerate() {
                    match b {
                        b',' | b'[' | b']' | b'{' | b'}' => {
                            end = i;
                            break;
                        }
                        // Only `: ` (a flow mapping's separator) ends a plain scalar here; libyaml
                        // versions disagree on `:` before other characters.
                        b':' if rest_bytes.get(i + 1) == Some(&b' ') => {
                            end = i;
                            break;
                        }
                        b':' => return Err(Declined),
                        // A comment inside a flow collection means it spans lines.
                        b'#' if i > 0 && rest_bytes[i - 1] == b' ' => return Err(Declined),
                        _ => {}
                    }
                }
                *pos += end;
                Node::plain(rest[..end].trim_end_matches(' '))
            }
        };
        self.depth -= 1;
        Ok(node)
    }
}

fn is_dash(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: rest` or `key:` -> the key and what follows the colon; `None` when the line is not a
/// mapping entry (it may still be a valid scalar or flow collection).
fn split_key(text: &str) -> Result<Option<(Node<'_>, &str)>, Declined> {
    let bytes = text.as_bytes();
    let (key, after) = match bytes.first() {
        Some(b'"' | b'\'') => {
            let mut end = 0;
            let key = quoted(text, &mut end)?;
            (key, &text[end..])
        }
        _ => {
            if !plain_may_start(text) {
                return Ok(None);
            }
            let mut colon = None;
            for (i, &b) in bytes.iter().enumerate() {
                if b == b':' && matches!(bytes.get(i + 1), None | Some(b' ')) {
                    colon = Some(i);
                    break;
                }
                if b == b'#' && i > 0 && bytes[i - 1] == b' ' {
                    return Ok(None);
                }
            }
            let Some(colon) = colon else {
                return Ok(None);
            };
            let key = &text[..colon];
            // `key : value` is valid YAML, but rare enough to leave to serde_yaml.
            if key.ends_with(' ') {
                return Err(Declined);
            }
            (Node::plain(key), &text[colon..])
        }
    };
    let Some(rest) = after.strip_prefix(':') else {
        return Ok(None);
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Ok(None);
    }
    if text.len() - after.len() > MAX_KEY_BYTES {
        return Err(Declined);
    }
    Ok(Some((key, rest)))
}

/// Whether a plain scalar may start here. libyaml allows more (`-x`, `:x`, `?x`), but a leading
/// indicator is rare in configs apart from negative numbers.
fn plain_may_start(text: &str) -> bool {
    let bytes = text.as_bytes();
    match bytes.first() {
        None => false,
        Some(b'-') => bytes
            .get(1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.'),
        Some(first) => !b"?:,[]{}#&*!|>'\"%@` ".contains(first),
    }
}

fn skip_spaces(bytes: &[u8], pos: &mut usize) {
    while bytes.get(*pos) == Some(&b' ') {
        *pos += 1;
    }
}

/// A single- or double-quoted scalar that ends on its line; `*pos` is at the opening quote.
fn quoted<'a>(text: &'a str, pos: &mut usize) -> Result<Node<'a>, Declined> {
    let bytes = text.as_bytes();
    let quote = *bytes.get(*pos).ok_or(Declined)?;
    let start = *pos + 1;
    let mut owned: Option<String> = None;
    let mut run_start = start;
    let mut i = start;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err(Declined);
        };
        if b == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&text[run_start..=i]);
                i += 2;
                run_start = i;
                continue;
            }
            break;
        }
        if quote == b'"' && b == b'\\' {
            let s = owned.get_or_insert_with(String::new);
            s.push_str(&text[run_start..i]);
            let (unescaped, len) = unescape(&text[i + 1..])?;
            s.push(unescaped);
            i += 1 + len;
            run_start = i;
            continue;
        }
        i += 1;
    }
    *pos = i + 1;
    let text = match owned {
        Some(mut s) => {
            s.push_str(&text[run_start..i]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(&text[start..i]),
    };
    Ok(Node::Scalar { text, plain: false })
}

/// The common double-quoted escapes; the character and how many bytes after `\` it used.
fn unescape(after_backslash: &str) -> Result<(char, usize), Declined> {
    let c = match after_backslash.as_bytes().first() {
        Some(b'\\') => '\\',
        Some(b'"') => '"',
        Some(b'/') => '/',
        Some(b'n') => '\n',
        Some(b't') => '\t',
        Some(b'u') => {
            let hex = after_backslash.get(1..5).ok_or(Declined)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Declined);
            }
            let code = u32::from_str_radix(hex, 16).map_err(|_| Declined)?;
            // Surrogates are an error in libyaml; char::from_u32 refuses them as well.
            return Ok((char::from_u32(code).ok_or(Declined)?, 5));
        }
        _ => return Err(Declined),
    };
    Ok((c, 1))
}

/// Deserializes one node the way serde_yaml's `DeserializerFromEvents` treats the same event.
struct NodeDe<'t, 'a>(&'t Node<'a>);

impl<'t, 'a> NodeDe<'t, 'a> {
    /// The text of a plain scalar: the only kind that resolves to bool, int, float or null.
    fn plain(&self) -> Option<&'t str> {
        match self.0 {
            Node::Scalar { text, plain: true } => Some(text),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        match self.0 {
            Node::Void => true,
            _ => self.plain().is_some_and(|v| v.is_empty() || is_null(v)),
        }
    }

    fn visit_seq<V: Visitor<'t>>(items: &'t [Node<'a>], visitor: V) -> Result<V::Value, Declined> {
        let mut access = SeqAccess(items.iter());
        let value = visitor.visit_seq(&mut access)?;
        // serde_yaml reports elements the visitor left unread as an error.
        match access.0.len() {
            0 => Ok(value),
            _ => Err(Declined),
        }
    }

    fn visit_map<V: Visitor<'t>>(
        entries: &'t [(Node<'a>, Node<'a>)],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        let mut access = MapAccess {
            entries: entries.iter(),
            value: None,
        };
        let value = visitor.visit_map(&mut access)?;
        match (access.entries.len(), access.value) {
            (0, None) => Ok(value),
            _ => Err(Declined),
        }
    }
}

/// Methods that serde_yaml forwards to another: narrower numbers read as i64/u64/f64.
macro_rules! forward {
    ($($method:ident => $target:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
            self.$target(visitor)
        }
    )*};
}

impl<'t, 'a> Deserializer<'t> for NodeDe<'t, 'a> {
    type Error = Declined;

    forward! {
        deserialize_i8 => deserialize_i64,
        deserialize_i16 => deserialize_i64,
        deserialize_i32 => deserialize_i64,
        deserialize_u8 => deserialize_u64,
        deserialize_u16 => deserialize_u64,
        deserialize_u32 => deserialize_u64,
        deserialize_f32 => deserialize_f64,
        deserialize_char => deserialize_str,
        deserialize_string => deserialize_str,
        deserialize_identifier => deserialize_str,
    }

    fn deserialize_any<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Void => visitor.visit_none(),
            Node::Scalar { text, plain: true } => visit_untagged_scalar(visitor, text),
            Node::Scalar { text, plain: false } => visitor.visit_borrowed_str(text),
            Node::Seq(items) => Self::visit_seq(items, visitor),
            Node::Map(entries) => Self::visit_map(entries, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.plain().and_then(parse_bool) {
            Some(b) => visitor.visit_bool(b),
            None => Err(Declined),
        }
    }

    fn deserialize_i64<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.plain().and_then(parse_signed_int) {
            Some(n) => visitor.visit_i64(n),
            None => Err(Declined),
        }
    }

    fn deserialize_u64<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self
            .plain()
            .and_then(|v| parse_unsigned_int(v, u64::from_str_radix))
        {
            Some(n) => visitor.visit_u64(n),
            None => Err(Declined),
        }
    }

    fn deserialize_f64<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.plain().and_then(parse_f64) {
            Some(f) => visitor.visit_f64(f),
            None => Err(Declined),
        }
    }

    /// Any scalar gives its text, unresolved: `name: 123` is the string "123".
    fn deserialize_str<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Scalar { text, .. } => visitor.visit_borrowed_str(text),
            _ => Err(Declined),
        }
    }

    fn deserialize_bytes<V: Visitor<'t>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }

    fn deserialize_byte_buf<V: Visitor<'t>>(self, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }

    fn deserialize_option<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        if self.is_null() {
            visitor.visit_unit()
        } else {
            Err(Declined)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'t>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Declined> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'t>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Declined> {
        visitor.visit_newtype_struct(self)
    }

    /// A missing or empty value (`targets:`) is an empty sequence in serde_yaml.
    fn deserialize_seq<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Seq(items) => Self::visit_seq(items, visitor),
            Node::Void => Self::visit_seq(&[], visitor),
            _ if self.plain() == Some("") => Self::visit_seq(&[], visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_tuple<V: Visitor<'t>>(self, _: usize, visitor: V) -> Result<V::Value, Declined> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'t>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Declined> {
        self.deserialize_seq(visitor)
    }

    /// A missing or empty value is an empty mapping in serde_yaml.
    fn deserialize_map<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Map(entries) => Self::visit_map(entries, visitor),
            Node::Void => Self::visit_map(&[], visitor),
            _ if self.plain() == Some("") => Self::visit_map(&[], visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_struct<V: Visitor<'t>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        self.deserialize_map(visitor)
    }

    /// Without tags, serde_yaml reads an enum only as a unit variant named by a scalar.
    fn deserialize_enum<V: Visitor<'t>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Scalar { .. } => visitor.visit_enum(self),
            _ => Err(Declined),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'t>>(self, visitor: V) -> Result<V::Value, Declined> {
        visitor.visit_unit()
    }
}

impl<'t, 'a> de::EnumAccess<'t> for NodeDe<'t, 'a> {
    type Error = Declined;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'t>>(self, seed: S) -> Result<(S::Value, Self), Declined> {
        Ok((seed.deserialize(NodeDe(self.0))?, self))
    }
}

impl<'t, 'a> de::VariantAccess<'t> for NodeDe<'t, 'a> {
    type Error = Declined;

    fn unit_variant(self) -> Result<(), Declined> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'t>>(self, _: S) -> Result<S::Value, Declined> {
        Err(Declined)
    }

    fn tuple_variant<V: Visitor<'t>>(self, _: usize, _: V) -> Result<V::Value, Declined> {
        Err(Declined)
    }

    fn struct_variant<V: Visitor<'t>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Declined> {
        Err(Declined)
    }
}

struct SeqAccess<'t, 'a>(std::slice::Iter<'t, Node<'a>>);

impl<'t, 'a> de::SeqAccess<'t> for SeqAccess<'t, 'a> {
    type Error = Declined;

    fn next_element_seed<S: DeserializeSeed<'t>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Declined> {
        self.0
            .next()
            .map(|node| seed.deserialize(NodeDe(node)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAccess<'t, 'a> {
    entries: std::slice::Iter<'t, (Node<'a>, Node<'a>)>,
    value: Option<&'t Node<'a>>,
}

impl<'t, 'a> de::MapAccess<'t> for MapAccess<'t, 'a> {
    type Error = Declined;

    fn next_key_seed<S: DeserializeSeed<'t>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Declined> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(NodeDe(key)).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'t>>(&mut self, seed: S) -> Result<S::Value, Declined> {
        seed.deserialize(NodeDe(self.value.take().ok_or(Declined)?))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

// Scalar resolution, following serde_yaml 0.9.34 src/de.rs function by function.

fn is_null(v: &str) -> bool {
    matches!(v, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// serde_yaml's `visit_untagged_scalar`: null, bool, integer, float, else the text.
fn visit_untagged_scalar<'t, V: Visitor<'t>>(visitor: V, v: &'t str) -> Result<V::Value, Declined> {
    if v.is_empty() || is_null(v) {
        return visitor.visit_unit();
    }
    if let Some(b) = parse_bool(v) {
        return visitor.visit_bool(b);
    }
    // Every number below starts with a digit, a sign or a dot (Rust's float parser also takes
    // `inf` and `nan`, which parse_f64 refuses); role names and keywords skip four parsers.
    if !v.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return visitor.visit_borrowed_str(v);
    }
    if let Some(n) = parse_unsigned_int(v, u64::from_str_radix) {
        return visitor.visit_u64(n);
    }
    if let Some(n) = parse_negative_int(v, i64::from_str_radix) {
        return visitor.visit_i64(n);
    }
    if let Some(n) = parse_unsigned_int(v, u128::from_str_radix) {
        return visitor.visit_u128(n);
    }
    if let Some(n) = parse_negative_int(v, i128::from_str_radix) {
        return visitor.visit_i128(n);
    }
    if !digits_but_not_number(v) {
        if let Some(f) = parse_f64(v) {
            return visitor.visit_f64(f);
        }
    }
    visitor.visit_borrowed_str(v)
}

/// Leading zeros followed by digits make a string in YAML 1.2.
fn digits_but_not_number(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    v.len() > 1 && v.starts_with('0') && v[1..].bytes().all(|b| b.is_ascii_digit())
}

type FromStrRadix<T> = fn(&str, u32) -> Result<T, std::num::ParseIntError>;

/// `0x`, `0o` and `0b` prefixes, as serde_yaml's `parse_unsigned_int` checks them.
fn radix_prefixed<T>(v: &str, from_str_radix: FromStrRadix<T>) -> Option<T> {
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = v.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = from_str_radix(rest, radix) {
                return Some(n);
            }
        }
    }
    None
}

fn parse_unsigned_int<T>(v: &str, from_str_radix: FromStrRadix<T>) -> Option<T> {
    let unpositive = v.strip_prefix('+').unwrap_or(v);
    if let Some(n) = radix_prefixed(unpositive, from_str_radix) {
        return Some(n);
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(v) {
        return None;
    }
    from_str_radix(unpositive, 10).ok()
}

/// `-0x..`, `-0o..`, `-0b..` or decimal, as serde_yaml's `parse_negative_int`.
fn negative_radix_prefixed<T>(v: &str, from_str_radix: FromStrRadix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = v.strip_prefix(prefix) {
            if let Ok(n) = from_str_radix(&format!("-{rest}"), radix) {
                return Some(n);
            }
        }
    }
    None
}

fn parse_negative_int<T>(v: &str, from_str_radix: FromStrRadix<T>) -> Option<T> {
    if let Some(n) = negative_radix_prefixed(v, from_str_radix) {
        return Some(n);
    }
    if digits_but_not_number(v) {
        return None;
    }
    from_str_radix(v, 10).ok()
}

/// serde_yaml's `parse_signed_int` for i64: the checks interleave, so it is kept in its order.
fn parse_signed_int(v: &str) -> Option<i64> {
    let unpositive = match v.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => v,
    };
    for (prefix, negative, radix) in [("0x", "-0x", 16), ("0o", "-0o", 8), ("0b", "-0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = i64::from_str_radix(rest, radix) {
                return Some(n);
            }
        }
        if let Some(rest) = v.strip_prefix(negative) {
            if let Ok(n) = i64::from_str_radix(&format!("-{rest}"), radix) {
                return Some(n);
            }
        }
    }
    if digits_but_not_number(v) {
        return None;
    }
    unpositive.parse::<i64>().ok()
}

fn parse_f64(v: &str) -> Option<f64> {
    let unpositive = match v.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => v,
    };
    if let ".inf" | ".Inf" | ".INF" = unpositive {
        return Some(f64::INFINITY);
    }
    if let "-.inf" | "-.Inf" | "-.INF" = v {
        return Some(f64::NEG_INFINITY);
    }
    if let ".nan" | ".NaN" | ".NAN" = v {
        return Some(f64::NAN.copysign(1.0));
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
