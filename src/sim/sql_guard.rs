//! Statements known to crash GlueSQL 0.20, refused before they reach it.
//!
//! A few of GlueSQL's functions panic on some arguments instead of returning an error (for
//! example `REPEAT('a', -1)`: "capacity overflow"). In the browser a panic cannot be caught —
//! the whole page stops — so such a statement is refused here with an error that says why, and
//! the simulation goes on. Only arguments known when the statement is parsed (literals, and
//! arithmetic on them) can be checked; a bad value that comes from a column is the page's
//! crash recovery's job (`ui::recovery`). The check is a walk over GlueSQL's own AST (in its
//! serde form, so every kind of statement and expression is covered), done only when the text
//! names one of the functions concerned.

use gluesql::core::ast::Statement;
use serde_json::Value as Json;
use thiserror::Error;

/// The largest string a function may be asked to build here (characters).
pub const MAX_STRING: f64 = 10_000_000.0;

/// Why a statement is refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GuardError {
    /// A count or size below zero, which GlueSQL 0.20 turns into a crash.
    #[error(
        "{function} with a negative {what} ({value}) is refused here: GlueSQL 0.20 would crash on it \
         (PostgreSQL returns an empty string)"
    )]
    Negative {
        /// The function.
        function: &'static str,
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// Padding with an empty fill string (GlueSQL 0.20 divides by its length).
    #[error(
        "{function} with an empty fill string is refused here: GlueSQL 0.20 would crash on it"
    )]
    EmptyFill {
        /// The function.
        function: &'static str,
    },
    /// Trimming the end of what `LTRIM` or `SUBSTR` returned (GlueSQL 0.20 keeps a byte
    /// offset into the original string and slices out of bounds).
    #[error(
        "{outer} applied to the result of {inner} is refused here: GlueSQL 0.20 would crash on it \
         (or return a wrong result); trim in one call, e.g. TRIM(x), instead"
    )]
    TrimOfSlice {
        /// The trimming function.
        outer: &'static str,
        /// The function whose result it trims.
        inner: &'static str,
    },
    /// A string so large that building it would exhaust the page's memory.
    #[error(
        "{function} would build a string of {value} characters: more than this page can hold \
         (at most 10,000,000)"
    )]
    TooLarge {
        /// The function.
        function: &'static str,
        /// Its size.
        value: String,
    },
}

/// The functions checked, with the argument that must not be negative or huge.
const CHECKED: &[(&str, &str, &str)] = &[
    ("Repeat", "num", "count"),
    ("Lpad", "size", "size"),
    ("Rpad", "size", "size"),
];

/// Words whose presence in a statement's text makes it worth walking.
const WORDS: &[&str] = &["REPEAT", "LPAD", "RPAD", "TRIM"];

/// Refuses `statement` if it calls a function in a way known to crash GlueSQL. `sql` is its
/// text: statements that name none of the functions are passed at once.
///
/// # Errors
///
/// [`GuardError`] naming the function and the argument.
pub fn check(statement: &Statement, sql: &str) -> Result<(), GuardError> {
    let upper = sql.to_ascii_uppercase();
    if !WORDS.iter().any(|word| upper.contains(word)) {
        return Ok(());
    }
    let Ok(tree) = serde_json::to_value(statement) else {
        return Ok(());
    };
    walk(&tree)
}

fn walk(node: &Json) -> Result<(), GuardError> {
    match node {
        Json::Object(map) => {
            if let Some(Json::Object(function)) = map.get("Function") {
                for (variant, argument, what) in CHECKED {
                    if let Some(value) = function
                        .get(*variant)
                        .and_then(|call| call.get(*argument))
                        .and_then(constant)
                    {
                        let name = match *variant {
                            "Repeat" => "REPEAT",
                            "Lpad" => "LPAD",
                            _ => "RPAD",
                        };
                        if value < 0.0 {
                            return Err(GuardError::Negative {
                                function: name,
                                what,
                                value: format!("{value}"),
                            });
                        }
                        if value > MAX_STRING {
                            return Err(GuardError::TooLarge {
                                function: name,
                                value: format!("{value}"),
                            });
                        }
                    }
                }
                for (variant, name) in [("Lpad", "LPAD"), ("Rpad", "RPAD")] {
                    let fill = function.get(variant).and_then(|call| call.get("fill"));
                    if fill.and_then(string_literal) == Some("") {
                        return Err(GuardError::EmptyFill { function: name });
                    }
                }
                check_trim(function)?;
            }
            map.values().try_for_each(walk)
        }
        Json::Array(items) => items.iter().try_for_each(walk),
        _ => Ok(()),
    }
}

/// `RTRIM(LTRIM(x))`, `TRIM(TRAILING … FROM SUBSTR(…))` and the like: GlueSQL 0.20 trims the
/// end of a slice with offsets of the whole string.
fn check_trim(function: &serde_json::Map<String, Json>) -> Result<(), GuardError> {
    let (outer, argument) = if let Some(call) = function.get("Rtrim") {
        ("RTRIM", call.get("expr"))
    } else if let Some(call) = function.get("Trim") {
        let leading_only = call.get("trim_where_field").and_then(Json::as_str) == Some("Leading");
        if leading_only {
            return Ok(());
        }
        ("TRIM", call.get("expr"))
    } else {
        return Ok(());
    };
    let inner = argument
        .and_then(|expr| expr.get("Function"))
        .and_then(Json::as_object)
        .and_then(|inner| {
            if inner.contains_key("Ltrim") {
                Some("LTRIM")
            } else if inner.contains_key("Substr") {
                Some("SUBSTR")
            } else if inner.get("Trim").is_some_and(|t| {
                t.get("trim_where_field").and_then(Json::as_str) == Some("Leading")
            }) {
                Some("TRIM(LEADING …)")
            } else {
                None
            }
        });
    match inner {
        Some(inner) => Err(GuardError::TrimOfSlice { outer, inner }),
        None => Ok(()),
    }
}

/// The text of a string literal in GlueSQL's AST.
fn string_literal(expr: &Json) -> Option<&str> {
    expr.get("Literal")?.get("QuotedString")?.as_str()
}

/// The value of a constant numeric expression in GlueSQL's AST (a literal, a sign, a nesting,
/// `+ - *` of constants), if it is one.
fn constant(expr: &Json) -> Option<f64> {
    let map = expr.as_object()?;
    let (kind, inner) = map.iter().next()?;
    match kind.as_str() {
        "Literal" => match inner.get("Number")? {
            Json::String(text) => text.parse().ok(),
            Json::Number(n) => n.as_f64(),
            _ => None,
        },
        "Nested" => constant(inner),
        "UnaryOp" => {
            let value = constant(inner.get("expr")?)?;
            match inner.get("op")?.as_str()? {
                "Minus" => Some(-value),
                "Plus" => Some(value),
                _ => None,
            }
        }
        "BinaryOp" => {
            let (left, right) = (
                constant(inner.get("left")?)?,
                constant(inner.get("right")?)?,
            );
            match inner.get("op")?.as_str()? {
                "Plus" => Some(left + right),
                "Minus" => Some(left - right),
                "Multiply" => Some(left * right),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gluesql::prelude::{parse, translate};

    fn checked(sql: &str) -> Result<(), GuardError> {
        let parsed = parse(sql).expect("parses");
        let statement = translate(&parsed[0]).expect("translates");
        check(&statement, sql)
    }

    #[test]
    fn negative_and_huge_counts_are_refused_wherever_they_are() {
        assert!(matches!(
            checked("SELECT REPEAT('a', -1)"),
            Err(GuardError::Negative {
                function: "REPEAT",
                ..
            })
        ));
        assert!(checked("select repeat('ab', 2 - 5) as x").is_err());
        assert!(checked("SELECT id FROM t WHERE name = REPEAT('a', (-(3)))").is_err());
        assert!(checked("INSERT INTO t VALUES (1, LPAD('x', -2, 'y'))").is_err());
        assert!(checked("UPDATE t SET name = RPAD(name, -1) WHERE id = 1").is_err());
        assert!(matches!(
            checked("SELECT REPEAT('a', 100000000000)"),
            Err(GuardError::TooLarge { .. })
        ));
        assert!(matches!(
            checked("SELECT LPAD('a', 5, '')"),
            Err(GuardError::EmptyFill { function: "LPAD" })
        ));
        assert!(matches!(
            checked("SELECT RTRIM(LTRIM('   a '))"),
            Err(GuardError::TrimOfSlice {
                outer: "RTRIM",
                inner: "LTRIM"
            })
        ));
        assert!(checked("SELECT TRIM(SUBSTR(name, 2)) FROM t").is_err());
        let message = checked("SELECT REPEAT('a', -1)").unwrap_err().to_string();
        assert!(
            message.contains("REPEAT") && message.contains("-1"),
            "{message}"
        );
    }

    #[test]
    fn ordinary_calls_pass() {
        assert_eq!(checked("SELECT REPEAT('a', 3)"), Ok(()));
        assert_eq!(checked("SELECT LPAD('7', 3, '0')"), Ok(()));
        assert_eq!(
            checked("SELECT REPEAT(name, id) FROM t"),
            Ok(()),
            "not a constant"
        );
        assert_eq!(checked("SELECT 'repeat' FROM t WHERE id = -1"), Ok(()));
        assert_eq!(
            checked("SELECT TRIM(name), LTRIM(RTRIM(name)) FROM t"),
            Ok(())
        );
        assert_eq!(checked("SELECT LPAD('a', 5, ' ')"), Ok(()));
    }

    /// The statements refused here really do crash GlueSQL: if a later GlueSQL stops
    /// panicking, this test says the guard can go.
    #[test]
    fn what_is_refused_really_panics_in_glue_sql() {
        for sql in [
            "SELECT REPEAT('a', -1)",
            "SELECT LPAD('a', 5, '')",
            "SELECT RTRIM(LTRIM('   a '))",
        ] {
            let outcome = std::panic::catch_unwind(|| {
                let mut glue =
                    gluesql::prelude::Glue::new(gluesql::prelude::MemoryStorage::default());
                let _ = glue.execute(sql);
            });
            assert!(outcome.is_err(), "GlueSQL no longer panics on {sql}");
        }
    }
}
