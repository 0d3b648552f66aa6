//! Where a field is in a scenario's text: the line and column of the value at a path such as
//! `services[1].operations[0].rate_per_s`, in TOML (through `toml_edit`'s spans) or in JSON
//! (by walking the text along the path), so that an error found after reading — a bad value, a
//! name used twice — still points at its line.

/// A path's parts: each a key, with an index when the key holds an array
/// (`operations[0]` → `("operations", Some(0))`).
fn parts(path: &str) -> impl Iterator<Item = (&str, Option<usize>)> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .map(|part| match part.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        })
}

/// The 1-based line and column of byte `offset` in `text`, the column in characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The line and column of the value at `path` in a TOML text, if it is there (the nearest
/// enclosing part that is, otherwise); `None` for a text that is not TOML.
pub fn locate_toml(text: &str, path: &str) -> Option<(usize, usize)> {
    let document = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = document.as_item();
    let mut span = None;
    for (key, index) in parts(path) {
        let Some(next) = item.get(key) else { break };
        item = next;
        span = item.span().or(span);
        if let Some(index) = index {
            let Some(next) = item.get(index) else { break };
            item = next;
            span = item.span().or(span);
        }
    }
    span.map(|s| line_col(text, s.start))
}

/// The line and column of the value at `path` in a JSON text, if it is there (the nearest
/// enclosing value that is, otherwise); `None` for a text that is not valid JSON.
pub fn locate_json(text: &str, path: &str) -> Option<(usize, usize)> {
    // Walking is only sound on a text that parses: the walker does not check the grammar.
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut steps = Vec::new();
    for (key, index) in parts(path) {
        steps.push(Step::Key(key));
        steps.extend(index.map(Step::Index));
    }
    let mut walker = Walker {
        text,
        at: 0,
        found: None,
    };
    walker.value(&steps);
    walker.found.map(|offset| line_col(text, offset))
}

/// Checks that no object in a JSON text has a key twice: a scenario is read through
/// `serde_json::Value`, which would keep the last of two silently (TOML refuses them itself).
///
/// # Errors
///
/// serde_json's error, at the second key: "duplicate key `name`".
pub fn json_keys_unique(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<UniqueKeys>(text).map(|_| ())
}

/// A JSON value whose objects have no key twice.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<UniqueKeys>()?;
            seen.insert(key);
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(UniqueKeys)
    }
}

/// One step down a JSON value: a member of an object or an element of an array.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A walk through a valid JSON text, down the steps of a path only.
struct Walker<'t> {
    text: &'t str,
    at: usize,
    /// Where the deepest value on the path reached so far starts.
    found: Option<usize>,
}

impl Walker<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// Reads a string from its opening quote, decoded.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.at += 1;
        while let Some(b) = self.peek() {
            self.at += if b == b'\\' { 2 } else { 1 };
            if b == b'"' {
                return serde_json::from_str(self.text.get(start..self.at)?).ok();
            }
        }
        None
    }

    /// Skips the value that starts here (after white space).
    fn skip(&mut self) {
        let mut depth = 0usize;
        loop {
            self.skip_space();
            match self.peek() {
                None => return,
                Some(b'"') => {
                    self.string();
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.at += 1;
                }
                Some(b'}' | b']') => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                    self.at += 1;
                }
                Some(b',' | b':') if depth > 0 => self.at += 1,
                Some(b',') => return,
                Some(_) => {
                    while self.peek().is_some_and(|b| {
                        !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()
                    }) {
                        self.at += 1;
                    }
                }
            }
            if depth == 0 {
                return;
            }
        }
    }

    /// Walks the value that starts here down `steps`; stops when the path leaves the text.
    fn value(&mut self, steps: &[Step<'_>]) {
        self.skip_space();
        self.found = Some(self.at);
        let Some((step, rest)) = steps.split_first() else {
            return;
        };
        let close = match (self.peek(), step) {
            (Some(b'{'), Step::Key(_)) => b'}',
            (Some(b'['), Step::Index(_)) => b']',
            _ => return,
        };
        self.at += 1;
        let mut index = 0;
        loop {
            self.skip_space();
            if self.peek() == Some(close) || self.peek().is_none() {
                return;
            }
            let here = if close == b'}' {
                let key = self.string();
                self.skip_space();
                self.at += 1; // the colon
                matches!(step, Step::Key(k) if key.as_deref() == Some(*k))
            } else {
                *step == Step::Index(index)
            };
            if here {
                self.value(rest);
                return;
            }
            self.skip();
            self.skip_space();
            if self.peek() == Some(b',') {
                self.at += 1;
            }
            index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{
  "name": "j",
  "databases": [
    {"name": "a", "setup": ["CREATE TABLE t (x TEXT DEFAULT '[,]')"]},
    {"name": "b\"{", "cores": 0}
  ],
  "services": [{"name": "s", "operations": [{"rate_per_s": -1}]}]
}"#;

    #[test]
    fn a_json_path_is_found_at_its_value() {
        assert_eq!(locate_json(JSON, "databases[1].cores"), Some((5, 31)));
        assert_eq!(
            locate_json(JSON, "services[0].operations[0].rate_per_s"),
            Some((7, 60))
        );
        assert_eq!(locate_json(JSON, "name"), Some((2, 11)));
    }

    #[test]
    fn a_json_path_not_in_the_text_stops_at_the_nearest_enclosing_value() {
        // databases[1] is there, its pool_size is not.
        assert_eq!(locate_json(JSON, "databases[1].pool_size"), Some((5, 5)));
        assert_eq!(locate_json(JSON, "databases[7].cores"), Some((3, 16)));
        assert_eq!(locate_json(JSON, ""), Some((1, 1)));
    }

    #[test]
    fn text_that_is_not_json_is_not_walked() {
        assert_eq!(locate_json("{\"a\": [1, 2", "a[1]"), None);
        assert_eq!(locate_json("name = 1", "name"), None);
    }

    #[test]
    fn a_key_twice_in_a_json_object_is_refused_at_its_line() {
        assert!(json_keys_unique(JSON).is_ok());
        let error =
            json_keys_unique("{\n  \"a\": [{\"b\": 1,\n  \"b\": 2}]\n}").expect_err("b twice");
        assert!(error.to_string().contains("duplicate key `b`"), "{error}");
        assert_eq!(error.line(), 3);
    }

    #[test]
    fn a_toml_path_is_found_at_its_value() {
        let text =
            "name = \"t\"\n\n[[services]]\nname = \"a\"\n\n[[services]]\nname = \"b\"\nrate = 3\n";
        assert_eq!(locate_toml(text, "services[1].rate"), Some((8, 8)));
        assert_eq!(locate_toml(text, "services[1].missing"), Some((6, 1)));
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_col("é = 1\nab", 8), (2, 2));
        assert_eq!(line_col("abc", 99), (1, 4));
    }
}
