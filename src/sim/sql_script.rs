//! Splits a SQL script into its statements, the way `psql` does before sending them one by one.
//!
//! A semicolon ends a statement unless it stands inside a string literal (`'it''s'`), a quoted
//! identifier (`"a;b"`, `` `a;b` ``), a line comment (`-- …`) or a block comment (`/* … */`).
//! Each statement keeps its place in the script (byte offset and line number) so a console can
//! say which statement of a long script failed. Comments and blank text between statements are
//! dropped; a script with no statements gives an empty list.

/// One statement cut out of a script, with where it stood.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScriptStatement {
    /// The statement's text, trimmed, without its terminating semicolon.
    pub sql: String,
    /// Byte offset of the statement's first character in the script.
    pub offset: usize,
    /// Line (1-based) on which the statement starts.
    pub line: usize,
}

/// What the scanner is inside of at a given character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lexeme {
    Code,
    /// Inside a quoted run that ends at this quote character (`'`, `"` or `` ` ``).
    Quoted(char),
    LineComment,
    BlockComment,
}

/// Splits `script` into statements at top-level semicolons.
///
/// Pieces that hold only white space and comments are dropped, so `"SELECT 1;;  -- done"` is one
/// statement. An unterminated string or comment runs to the end of the script and stays part of
/// the last statement, where the SQL parser will report it.
pub fn split_statements(script: &str) -> Vec<ScriptStatement> {
    let mut statements = Vec::new();
    let mut state = Lexeme::Code;
    let mut start = 0;
    // Whether the current piece has any character outside comments and white space.
    let mut has_code = false;
    let mut chars = script.char_indices().peekable();

    while let Some((i, c)) = chars.next() {
        match state {
            Lexeme::Code => match c {
                ';' => {
                    push_piece(&mut statements, script, start, i, has_code);
                    start = i + 1;
                    has_code = false;
                }
                '\'' | '"' | '`' => {
                    state = Lexeme::Quoted(c);
                    has_code = true;
                }
                '-' if chars.peek().map(|&(_, n)| n) == Some('-') => {
                    chars.next();
                    state = Lexeme::LineComment;
                }
                '/' if chars.peek().map(|&(_, n)| n) == Some('*') => {
                    chars.next();
                    state = Lexeme::BlockComment;
                }
                c if c.is_whitespace() => {}
                _ => has_code = true,
            },
            Lexeme::Quoted(quote) => {
                if c == quote {
                    // A doubled quote ('it''s') is an escaped quote, not the end of the run.
                    if chars.peek().map(|&(_, n)| n) == Some(quote) {
                        chars.next();
                    } else {
                        state = Lexeme::Code;
                    }
                }
            }
            Lexeme::LineComment => {
                if c == '\n' {
                    state = Lexeme::Code;
                }
            }
            Lexeme::BlockComment => {
                if c == '*' && chars.peek().map(|&(_, n)| n) == Some('/') {
                    chars.next();
                    state = Lexeme::Code;
                }
            }
        }
    }
    push_piece(&mut statements, script, start, script.len(), has_code);
    statements
}

/// Adds `script[start..end]` as a statement when it holds code, trimmed, with its line number.
fn push_piece(
    statements: &mut Vec<ScriptStatement>,
    script: &str,
    start: usize,
    end: usize,
    has_code: bool,
) {
    if !has_code {
        return;
    }
    // What follows leading comments is a suffix of the piece, so its offset is known.
    let body = strip_leading_comments(&script[start..end]);
    let offset = end - body.len();
    let line = 1 + script[..offset].matches('\n').count();
    statements.push(ScriptStatement {
        sql: body.trim_end().to_owned(),
        offset,
        line,
    });
}

/// Drops comments and white space in front of the first code character of a piece.
fn strip_leading_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("--") {
            text = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = text.strip_prefix("/*") {
            text = rest.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return text;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(script: &str) -> Vec<String> {
        split_statements(script)
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    #[test]
    fn splits_at_semicolons_and_trims() {
        assert_eq!(
            sqls("SELECT 1;\n  SELECT 2 ;SELECT 3"),
            ["SELECT 1", "SELECT 2", "SELECT 3"]
        );
    }

    #[test]
    fn semicolons_inside_strings_identifiers_and_comments_do_not_split() {
        let script = "INSERT INTO t VALUES ('a;b', 'it''s; fine');\n\
                      SELECT \"x;y\" FROM t -- trailing; comment\n;\n\
                      /* block; comment */ SELECT 2";
        assert_eq!(
            sqls(script),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
                "SELECT \"x;y\" FROM t -- trailing; comment",
                "SELECT 2",
            ]
        );
    }

    #[test]
    fn empty_pieces_and_comment_only_pieces_are_dropped() {
        assert!(sqls("").is_empty());
        assert!(sqls("  ;; -- nothing here\n /* or here */ ;").is_empty());
        assert_eq!(sqls(";;SELECT 1;;"), ["SELECT 1"]);
    }

    #[test]
    fn statements_know_their_line_and_offset() {
        let script = "SELECT 1;\n\n-- a comment\nSELECT 2;\n  UPDATE t SET a = 1";
        let statements = split_statements(script);
        let lines: Vec<usize> = statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [1, 4, 5]);
        for statement in &statements {
            assert!(script[statement.offset..].starts_with(&statement.sql));
        }
    }

    #[test]
    fn an_unterminated_string_stays_in_the_last_statement() {
        assert_eq!(
            sqls("SELECT 1; SELECT 'oops;"),
            ["SELECT 1", "SELECT 'oops;"]
        );
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        assert_eq!(
            sqls("INSERT INTO t VALUES ('Zoë; Ωmega');SELECT 'ß'"),
            ["INSERT INTO t VALUES ('Zoë; Ωmega')", "SELECT 'ß'"]
        );
    }
}
