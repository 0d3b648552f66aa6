//! Statements known to crash GlueSQL 0.20, refused before they reach it.
//!
//! A few of GlueSQL's functions panic on some arguments instead of returning an error (for
//! example `REPEAT('a', -1)`: "capacity overflow"). In the browser a panic cannot be caught —
//! the whole page stops — so such a statement is refused here with an error that says why, and
//! the simulation goes on. Only arguments known when the statement is read (literals, and
//! arithmetic on them) can be checked; a bad value that comes from a column is the page's
//! crash recovery's job (`ui::recovery`). The check reads the statement's tokens (SQL's own
//! tokenizer), so it sees a call wherever it stands: in a select list, a `WHERE`, an `INSERT`.
//!
//! Known and not checked here (GlueSQL 0.20 panics on them too; the page's recovery covers
//! them): string functions that slice by bytes on non-ASCII text (`SUBSTR('é', 2)`,
//! `LPAD('é', 1)`, `LTRIM('éa', 'é')`, `FIND_IDX` past the end), `FORMAT` with a specifier the
//! value cannot supply, dates and intervals beyond chrono's range (`LAST_DAY` in year 262142,
//! `DATE '2020-01-01' + INTERVAL '100000000' DAY`), and `DECIMAL` arithmetic with 128-bit
//! integers beyond 2^96.

use gluesql::core::sqlparser::dialect::PostgreSqlDialect;
use gluesql::core::sqlparser::tokenizer::{Token, Tokenizer};
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

/// Refuses `sql` (one statement) if it calls a function in a way known to crash GlueSQL.
/// Statements that name none of the functions concerned are passed at once.
///
/// # Errors
///
/// [`GuardError`] naming the function and the argument.
pub fn check(sql: &str) -> Result<(), GuardError> {
    let upper = sql.to_ascii_uppercase();
    if !["REPEAT", "LPAD", "RPAD", "TRIM"]
        .iter()
        .any(|word| upper.contains(word))
    {
        return Ok(());
    }
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Ok(()); // GlueSQL's parser reports what is wrong with it.
    };
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    for i in 0..tokens.len() {
        let Some(name) = call_at(&tokens, i) else {
            continue;
        };
        let arguments = arguments(&tokens[i + 2..]);
        match name.as_str() {
            "REPEAT" => check_size("REPEAT", "count", arguments.get(1))?,
            "LPAD" | "RPAD" => {
                let function = if name == "LPAD" { "LPAD" } else { "RPAD" };
                check_size(function, "size", arguments.get(1))?;
                if let Some([Token::SingleQuotedString(fill)]) = arguments.get(2) {
                    if fill.is_empty() {
                        return Err(GuardError::EmptyFill { function });
                    }
                }
            }
            "RTRIM" => check_trimmed("RTRIM", arguments.first().copied())?,
            "TRIM" => {
                let Some(argument) = arguments.first() else {
                    continue;
                };
                let leading = matches!(argument.first(), Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("LEADING"));
                if leading {
                    continue;
                }
                // TRIM([BOTH | TRAILING] [chars] FROM x) trims x; TRIM(x) trims x.
                let from = argument.iter().position(
                    |t| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case("FROM")),
                );
                let trimmed = from.map_or(*argument, |at| &argument[at + 1..]);
                check_trimmed("TRIM", Some(trimmed))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The upper-case name of the function called at `i` (a word followed by `(`), if any.
fn call_at(tokens: &[Token], i: usize) -> Option<String> {
    match (tokens.get(i)?, tokens.get(i + 1)?) {
        (Token::Word(word), Token::LParen) if word.quote_style.is_none() => {
            Some(word.value.to_ascii_uppercase())
        }
        _ => None,
    }
}

/// A call's arguments: the tokens after its `(`, split at the commas of its own level, up to
/// its `)`.
fn arguments(tokens: &[Token]) -> Vec<&[Token]> {
    let mut arguments = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => {
                arguments.push(&tokens[start..i]);
                return arguments;
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                arguments.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    arguments.push(&tokens[start..]);
    arguments
}

fn check_size(
    function: &'static str,
    what: &'static str,
    argument: Option<&&[Token]>,
) -> Result<(), GuardError> {
    let Some(value) = argument.and_then(|tokens| constant(tokens)) else {
        return Ok(());
    };
    if value < 0.0 {
        return Err(GuardError::Negative {
            function,
            what,
            value: format!("{value}"),
        });
    }
    if value > MAX_STRING {
        return Err(GuardError::TooLarge {
            function,
            value: format!("{value}"),
        });
    }
    Ok(())
}

/// `RTRIM(LTRIM(x))`, `TRIM(TRAILING … FROM SUBSTR(…))` and the like: GlueSQL 0.20 trims the
/// end of a slice with offsets into the whole string.
fn check_trimmed(outer: &'static str, argument: Option<&[Token]>) -> Result<(), GuardError> {
    let Some(tokens) = argument else {
        return Ok(());
    };
    let inner = match call_at(tokens, 0).as_deref() {
        Some("LTRIM") => "LTRIM",
        Some("SUBSTR") | Some("SUBSTRING") => "SUBSTR",
        Some("TRIM") => {
            let leading = matches!(tokens.get(2), Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("LEADING"));
            if !leading {
                return Ok(());
            }
            "TRIM(LEADING …)"
        }
        _ => return Ok(()),
    };
    Err(GuardError::TrimOfSlice { outer, inner })
}

/// The value of a constant numeric expression — numbers, signs, parentheses, `+ - *` — if
/// the tokens are exactly one.
fn constant(tokens: &[Token]) -> Option<f64> {
    let mut at = 0;
    let value = sum(tokens, &mut at)?;
    (at == tokens.len()).then_some(value)
}

fn sum(tokens: &[Token], at: &mut usize) -> Option<f64> {
    let mut value = product(tokens, at)?;
    loop {
        match tokens.get(*at) {
            Some(Token::Plus) => {
                *at += 1;
                value += product(tokens, at)?;
            }
            Some(Token::Minus) => {
                *at += 1;
                value -= product(tokens, at)?;
            }
            _ => return Some(value),
        }
    }
}

fn product(tokens: &[Token], at: &mut usize) -> Option<f64> {
    let mut value = factor(tokens, at)?;
    while let Some(Token::Mul) = tokens.get(*at) {
        *at += 1;
        value *= factor(tokens, at)?;
    }
    Some(value)
}

fn factor(tokens: &[Token], at: &mut usize) -> Option<f64> {
    let token = tokens.get(*at)?;
    *at += 1;
    match token {
        Token::Number(text, _) => text.parse().ok(),
        Token::Minus => factor(tokens, at).map(|v| -v),
        Token::Plus => factor(tokens, at),
        Token::LParen => {
            let value = sum(tokens, at)?;
            matches!(tokens.get(*at), Some(Token::RParen)).then(|| {
                *at += 1;
                value
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(sql: &str) -> Result<(), GuardError> {
        check(sql)
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
        assert!(checked("SELECT TRIM(TRAILING 'x' FROM LTRIM(name)) FROM t").is_err());
        assert_eq!(
            checked("SELECT TRIM(LEADING 'x' FROM LTRIM(name)) FROM t"),
            Ok(())
        );
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
            checked("SELECT \"repeat\"(1, -1)"),
            Ok(()),
            "a quoted name is no call"
        );
        assert_eq!(checked("SELECT REPEAT('a', 2 * (1 + 2))"), Ok(()));
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
