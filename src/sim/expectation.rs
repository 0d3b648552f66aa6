//! Expectations: what a scenario (a lesson) says its run will show, written so that a program can
//! check it — `errors(billing, schema) > 0 after rename`, `p99(orders.set_status) during report >=
//! 5 * p99(orders.set_status) before report`, `duplicates(billing) == 0`, `staleness_p95(billing.orders)
//! < 2s`, `diff(billing.orders) == 0`.
//!
//! Grammar (one expectation per string):
//!
//! ```text
//! expectation := metric [region] op rhs
//! rhs         := number [unit] | [number "*"] metric [region]
//! metric      := name "(" argument ("," argument)* ")"
//! region      := ("before" | "during" | "after") phase | "at" "end"
//! op          := "<" | "<=" | ">" | ">=" | "==" | "!="
//! unit        := "us" | "ms" | "s" | "m"            (durations only; a duration metric is in ms)
//! ```
//!
//! A phase is one of the scenario's `[[phases]]`: `before` is from the start to its `from`,
//! `during` from its `from` to its `to` (or the end), `after` from its `to` (or, without one, its
//! `from`) to the end. Without a region an expectation covers the whole run, measured at its end.
//! This module parses and judges; [`crate::sim::world::World::measure`] measures.

use crate::sim::clock::{Micros, SimDuration};
use crate::sim::metrics::ErrorKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// One `[[expect]]` of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The expectation, in the grammar of the README (`errors(billing, schema) > 0 after
    /// rename`).
    pub that: String,
    /// What it shows, in a few words for the page's checkpoint (default: the expectation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub says: Option<String>,
    /// The modes it is about (default: every mode the scenario runs in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<crate::sim::modes::Mode>,
}

/// One `[[phases]]` of a scenario: a named stretch of the run that expectations compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// The name expectations use (`before report`, `during report`, `after rename`).
    pub name: String,
    /// When it starts.
    pub from: SimDuration,
    /// When it ends (default: the end of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<SimDuration>,
}

/// What a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Operations completed: `ops(service[.operation])`.
    Ops,
    /// Operations that ended early because their query found nothing to work on (a poll of an
    /// empty queue: a wasted poll): `found_nothing(service[.operation])`.
    FoundNothing,
    /// Operations failed, of one kind or all: `errors(service[.operation][, kind])`.
    Errors(Option<ErrorKind>),
    /// A latency percentile in ms: `p50`, `p95`, `p99`, `max` of `(service[.operation])`.
    Latency(Quantile),
    /// Operations completed per second: `throughput(service[.operation])`.
    Throughput,
    /// Time spent waiting for locks, in ms: `lock_wait(service[.operation])`.
    LockWait,
    /// Messages delivered again and skipped by a consumer group: `duplicates(group)`.
    Duplicates,
    /// A read model's staleness percentile in ms: `staleness_p95(service.table)` (also `_p50`,
    /// `_p99`, `_max`).
    Staleness(Quantile),
    /// A connector's lag behind its source now, in ms: `lag(connector)`.
    Lag,
    /// Changes a connector never saw (query capture: deletes, states between polls):
    /// `missed(connector)`.
    Missed,
    /// Core time capturing cost the source database, in ms: `source_cost(connector)`.
    SourceCost,
    /// Batches a consumer group failed to apply: `failed_batches(group)`.
    FailedBatches,
    /// Rows of a read model missing, extra or differing from its source, once the pipeline is
    /// quiet: `diff(service.table)`.
    Diff,
    /// The database's mean execution time per completed operation, in ms (its statements'
    /// time on a core, without the network, lock waits or queueing): `exec_time(service[.op])`.
    ExecTime,
    /// Deadlocks detected in a database: `deadlocks(database)`.
    Deadlocks,
    /// Statements a database executed (each counted once, whoever sent it):
    /// `statements(database)`.
    Statements,
    /// The first column of the first row of a query on a database now: `query(database, "SELECT
    /// COUNT(*) FROM …")`.
    Query,
    /// Scripted steps that failed, of one kind or all: `steps_failed([kind])`.
    StepsFailed,
}

/// A percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    /// Median.
    P50,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Largest.
    Max,
}

impl Quantile {
    /// The fraction (1.0 for the largest).
    pub fn fraction(self) -> f64 {
        match self {
            Self::P50 => 0.50,
            Self::P95 => 0.95,
            Self::P99 => 0.99,
            Self::Max => 1.0,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "p50" => Self::P50,
            "p95" => Self::P95,
            "p99" => Self::P99,
            "max" => Self::Max,
            _ => return None,
        })
    }
}

impl MetricKind {
    /// Whether the metric is a duration (measured in ms, compared with numbers in any unit).
    pub fn is_duration(self) -> bool {
        matches!(
            self,
            Self::Latency(_)
                | Self::LockWait
                | Self::ExecTime
                | Self::Staleness(_)
                | Self::Lag
                | Self::SourceCost
        )
    }

    /// Whether the metric can only grow during a run: once `> n` holds, it holds for good.
    pub fn only_grows(self) -> bool {
        matches!(
            self,
            Self::Ops
                | Self::FoundNothing
                | Self::Errors(_)
                | Self::LockWait
                | Self::Duplicates
                | Self::Deadlocks
                | Self::Statements
                | Self::StepsFailed
                | Self::Missed
                | Self::SourceCost
                | Self::FailedBatches
        )
    }

    /// Whether the metric can be measured over a phase (the others are of the whole run or of
    /// the state at its end).
    pub fn by_phase(self) -> bool {
        matches!(
            self,
            Self::Ops
                | Self::FoundNothing
                | Self::Errors(_)
                | Self::Latency(_)
                | Self::Throughput
                | Self::LockWait
                | Self::ExecTime
        )
    }
}

/// Which stretch of the run a metric covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    /// The whole run, measured at its end (`at end`, or nothing).
    Whole,
    /// From the start to the phase's start.
    Before(String),
    /// The phase itself.
    During(String),
    /// From the phase's end to the end of the run.
    After(String),
}

impl Region {
    /// The phase named, if any.
    pub fn phase(&self) -> Option<&str> {
        match self {
            Self::Whole => None,
            Self::Before(p) | Self::During(p) | Self::After(p) => Some(p),
        }
    }

    /// The stretch `[from, to)` this region covers, given the phases and the run's length.
    pub fn span(&self, phases: &[PhaseSpec], duration: Micros) -> Option<(Micros, Micros)> {
        let phase = |name: &str| phases.iter().find(|p| p.name == name);
        Some(match self {
            Self::Whole => (0, duration),
            Self::Before(p) => (0, phase(p)?.from.micros()),
            Self::During(p) => {
                let p = phase(p)?;
                (p.from.micros(), p.to.map_or(duration, SimDuration::micros))
            }
            Self::After(p) => {
                let p = phase(p)?;
                (p.to.unwrap_or(p.from).micros(), duration)
            }
        })
    }
}

/// A measured quantity: a metric of something, over a region.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// What it measures.
    pub kind: MetricKind,
    /// The metric's name as written (`p99`, `errors`).
    pub name: String,
    /// What it measures it of: `service[.operation]`, a group, `service.table`, a connector, a
    /// database.
    pub target: String,
    /// For `query`: the SQL.
    pub sql: Option<String>,
    /// Over which stretch of the run.
    pub region: Region,
}

impl Metric {
    /// `target` split at its first dot: (service, operation) or (service, table).
    pub fn target_parts(&self) -> (&str, Option<&str>) {
        match self.target.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (&self.target, None),
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Whether `a op b` holds (equality within a thousandth, as measures are rounded).
    pub fn holds(self, a: f64, b: f64) -> bool {
        let eq = (a - b).abs() <= 1e-3 * a.abs().max(b.abs()).max(1.0);
        match self {
            Self::Lt => a < b && !eq,
            Self::Le => a < b || eq,
            Self::Gt => a > b && !eq,
            Self::Ge => a > b || eq,
            Self::Eq => eq,
            Self::Ne => !eq,
        }
    }

    /// As written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

/// The right-hand side of an expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// A number, in the left metric's unit (ms for a duration).
    Number(f64),
    /// A factor times another metric.
    Scaled(f64, Metric),
}

/// A parsed expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The text it was parsed from.
    pub text: String,
    /// What is measured.
    pub lhs: Metric,
    /// How it compares.
    pub op: Op,
    /// With what.
    pub rhs: Rhs,
}

/// Why an expectation cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at column {column}: {message}")]
pub struct ExpectationError {
    /// Where in the expectation (1-based, in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(f64),
    Text(String),
    Punct(&'static str),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Word(w) => write!(f, "\"{w}\""),
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(t) => write!(f, "the text \"{t}\""),
            Self::Punct(p) => write!(f, "\"{p}\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ExpectationError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let error = |column: usize, message: String| ExpectationError { column, message };
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '-'))
            {
                i += 1;
            }
            tokens.push((column, Token::Word(chars[start..i].iter().collect())));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            let value = number
                .parse::<f64>()
                .map_err(|_| error(column, format!("\"{number}\" is not a number")))?;
            tokens.push((column, Token::Number(value)));
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| error(column, format!("the text opened with {c} is not closed")))?;
            tokens.push((
                column,
                Token::Text(chars[i + 1..i + 1 + end].iter().collect()),
            ));
            i += end + 2;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let punct = match two.as_str() {
                "<=" => Some("<="),
                ">=" => Some(">="),
                "==" => Some("=="),
                "!=" => Some("!="),
                _ => None,
            };
            if let Some(p) = punct {
                tokens.push((column, Token::Punct(p)));
                i += 2;
                continue;
            }
            let p = match c {
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '*' => "*",
                '<' => "<",
                '>' => ">",
                '=' => {
                    return Err(error(
                        column,
                        "write == to compare for equality, not =".to_owned(),
                    ))
                }
                other => return Err(error(column, format!("unexpected \"{other}\""))),
            };
            tokens.push((column, Token::Punct(p)));
            i += 1;
        }
    }
    Ok(tokens)
}

/// The metrics an expectation can name, for error messages and the README.
pub const METRICS: &[&str] = &[
    "ops",
    "found_nothing",
    "errors",
    "p50",
    "p95",
    "p99",
    "max",
    "throughput",
    "lock_wait",
    "exec_time",
    "duplicates",
    "staleness_p50",
    "staleness_p95",
    "staleness_p99",
    "staleness_max",
    "lag",
    "missed",
    "source_cost",
    "failed_batches",
    "diff",
    "deadlocks",
    "statements",
    "query",
    "steps_failed",
];

fn check_region(
    kind: MetricKind,
    name: &str,
    region: &Region,
    column: usize,
) -> Result<(), ExpectationError> {
    if *region == Region::Whole || kind.by_phase() {
        return Ok(());
    }
    Err(ExpectationError {
        column,
        message: format!(
            "{name} is measured over the whole run or at its end, not {} a phase",
            match region {
                Region::Before(_) => "before",
                Region::During(_) => "during",
                _ => "after",
            }
        ),
    })
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    end_column: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.tokens
            .get(self.next)
            .map_or(self.end_column, |(c, _)| *c)
    }

    fn error(&self, message: impl Into<String>) -> ExpectationError {
        ExpectationError {
            column: self.column(),
            message: message.into(),
        }
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end".to_owned(), ToString::to_string)
    }

    fn take(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).map(|(_, t)| t.clone());
        self.next += 1;
        token
    }

    fn expect_punct(&mut self, p: &'static str) -> Result<(), ExpectationError> {
        if self.peek() == Some(&Token::Punct(p)) {
            self.next += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected \"{p}\", found {}", self.found())))
        }
    }

    fn metric(&mut self) -> Result<Metric, ExpectationError> {
        let column = self.column();
        let name = match self.take() {
            Some(Token::Word(w)) => w,
            other => {
                self.next -= 1;
                let _ = other;
                return Err(self.error(format!(
                    "expected a metric ({}), found {}",
                    METRICS.join(", "),
                    self.found()
                )));
            }
        };
        let unknown = || ExpectationError {
            column,
            message: format!(
                "no metric \"{name}\": the metrics are {}",
                METRICS.join(", ")
            ),
        };
        let kind = match name.as_str() {
            "ops" => MetricKind::Ops,
            "found_nothing" => MetricKind::FoundNothing,
            "errors" => MetricKind::Errors(None),
            "throughput" => MetricKind::Throughput,
            "lock_wait" => MetricKind::LockWait,
            "exec_time" => MetricKind::ExecTime,
            "duplicates" => MetricKind::Duplicates,
            "lag" => MetricKind::Lag,
            "missed" => MetricKind::Missed,
            "source_cost" => MetricKind::SourceCost,
            "failed_batches" => MetricKind::FailedBatches,
            "diff" => MetricKind::Diff,
            "deadlocks" => MetricKind::Deadlocks,
            "statements" => MetricKind::Statements,
            "query" => MetricKind::Query,
            "steps_failed" => MetricKind::StepsFailed,
            other => match other.strip_prefix("staleness_") {
                Some(q) => MetricKind::Staleness(Quantile::parse(q).ok_or_else(unknown)?),
                None => MetricKind::Latency(Quantile::parse(other).ok_or_else(unknown)?),
            },
        };
        self.expect_punct("(")?;
        let mut arguments: Vec<(usize, Token)> = Vec::new();
        if self.peek() != Some(&Token::Punct(")")) {
            loop {
                let column = self.column();
                match self.take() {
                    Some(token @ (Token::Word(_) | Token::Text(_))) => {
                        arguments.push((column, token));
                    }
                    _ => {
                        self.next -= 1;
                        return Err(self.error(format!(
                            "expected a name or a quoted text, found {}",
                            self.found()
                        )));
                    }
                }
                if self.peek() == Some(&Token::Punct(",")) {
                    self.next += 1;
                } else {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        let word = |i: usize| match arguments.get(i) {
            Some((_, Token::Word(w))) => Some(w.clone()),
            _ => None,
        };
        let argument_error = |message: String| ExpectationError { column, message };
        let (target, sql, kind) = match kind {
            MetricKind::Query => match (&arguments.first(), &arguments.get(1), arguments.len()) {
                (Some((_, Token::Word(db))), Some((_, Token::Text(sql))), 2) => {
                    (db.clone(), Some(sql.clone()), kind)
                }
                _ => {
                    return Err(argument_error(
                        "query takes a database and a quoted SELECT: query(shop, \"SELECT COUNT(*) FROM orders\")"
                            .to_owned(),
                    ))
                }
            },
            MetricKind::StepsFailed => match arguments.len() {
                0 => (String::new(), None, kind),
                1 => (word(0).unwrap_or_default(), None, kind),
                _ => {
                    return Err(argument_error(
                        "steps_failed takes at most an error kind: steps_failed(deadlock)"
                            .to_owned(),
                    ))
                }
            },
            MetricKind::Errors(_) => {
                let target = word(0).filter(|_| arguments.len() <= 2).ok_or_else(|| {
                    argument_error(
                        "errors takes a service (or service.operation) and, optionally, a kind: errors(billing, schema)"
                            .to_owned(),
                    )
                })?;
                let kind = match arguments.get(1) {
                    None => MetricKind::Errors(None),
                    Some((column, token)) => {
                        let name = match token {
                            Token::Word(w) => w.clone(),
                            _ => String::new(),
                        };
                        let error_kind = ErrorKind::parse(&name).ok_or_else(|| ExpectationError {
                            column: *column,
                            message: format!(
                                "no error kind \"{name}\": the kinds are {}",
                                ErrorKind::ALL.map(ErrorKind::name).join(", ")
                            ),
                        })?;
                        MetricKind::Errors(Some(error_kind))
                    }
                };
                (target, None, kind)
            }
            _ => {
                let target = word(0).filter(|_| arguments.len() == 1).ok_or_else(|| {
                    argument_error(format!("{name} takes one name: {name}(…)"))
                })?;
                (target, None, kind)
            }
        };
        // In steps_failed the argument is the error kind (a script's steps have no service).
        let region = self.region()?;
        check_region(kind, &name, &region, column)?;
        Ok(Metric {
            kind,
            name,
            target,
            sql,
            region,
        })
    }

    fn region(&mut self) -> Result<Region, ExpectationError> {
        let word = match self.peek() {
            Some(Token::Word(w)) => w.clone(),
            _ => return Ok(Region::Whole),
        };
        let make: fn(String) -> Region = match word.as_str() {
            "before" => Region::Before,
            "during" => Region::During,
            "after" => Region::After,
            "at" => {
                self.next += 1;
                return match self.take() {
                    Some(Token::Word(w)) if w == "end" => Ok(Region::Whole),
                    _ => {
                        self.next -= 1;
                        Err(self.error(format!("expected \"end\", found {}", self.found())))
                    }
                };
            }
            _ => {
                return Err(self.error(format!(
                    "expected before, during, after, at end or a comparison, found {}",
                    self.found()
                )))
            }
        };
        self.next += 1;
        match self.take() {
            Some(Token::Word(phase)) => Ok(make(phase)),
            _ => {
                self.next -= 1;
                Err(self.error(format!("expected a phase's name, found {}", self.found())))
            }
        }
    }

    fn op(&mut self) -> Result<Op, ExpectationError> {
        let op = match self.peek() {
            Some(Token::Punct("<")) => Op::Lt,
            Some(Token::Punct("<=")) => Op::Le,
            Some(Token::Punct(">")) => Op::Gt,
            Some(Token::Punct(">=")) => Op::Ge,
            Some(Token::Punct("==")) => Op::Eq,
            Some(Token::Punct("!=")) => Op::Ne,
            _ => {
                return Err(self.error(format!(
                    "expected a comparison (<, <=, >, >=, ==, !=), found {}",
                    self.found()
                )))
            }
        };
        self.next += 1;
        Ok(op)
    }

    fn rhs(&mut self, lhs: &Metric) -> Result<Rhs, ExpectationError> {
        let number = match self.peek() {
            Some(Token::Number(n)) => {
                let n = *n;
                self.next += 1;
                n
            }
            Some(Token::Word(_)) => return Ok(Rhs::Scaled(1.0, self.metric()?)),
            _ => {
                return Err(self.error(format!(
                    "expected a number or a metric, found {}",
                    self.found()
                )))
            }
        };
        match self.peek() {
            Some(Token::Punct("*")) => {
                self.next += 1;
                Ok(Rhs::Scaled(number, self.metric()?))
            }
            Some(Token::Word(unit)) if matches!(unit.as_str(), "us" | "ms" | "s" | "m") => {
                if !lhs.kind.is_duration() {
                    return Err(self.error(format!(
                        "{} is a count, not a duration: write the number without a unit",
                        lhs.name
                    )));
                }
                let unit = unit.clone();
                let micros = SimDuration::parse(&format!("{number}{unit}"))
                    .map_err(|message| self.error(message))?;
                self.next += 1;
                Ok(Rhs::Number(micros.micros() as f64 / 1e3))
            }
            _ => Ok(Rhs::Number(number)),
        }
    }
}

impl Expectation {
    /// Reads one expectation.
    ///
    /// # Errors
    ///
    /// An [`ExpectationError`] with the column where reading stopped and what was expected there.
    pub fn parse(text: &str) -> Result<Self, ExpectationError> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            next: 0,
            end_column: text.chars().count() + 1,
        };
        let mut lhs = parser.metric()?;
        let op = parser.op()?;
        let rhs = parser.rhs(&lhs)?;
        // `errors(billing) > 0 after rename`: a region after a number is the left metric's.
        if matches!(rhs, Rhs::Number(_)) {
            let column = parser.column();
            let region = parser.region()?;
            if region != Region::Whole {
                if lhs.region != Region::Whole {
                    return Err(ExpectationError {
                        column,
                        message: "the metric already says which stretch of the run it covers"
                            .to_owned(),
                    });
                }
                check_region(lhs.kind, &lhs.name, &region, 1)?;
                lhs.region = region;
            }
        }
        if parser.peek().is_some() {
            return Err(parser.error(format!(
                "unexpected {} after the expectation",
                parser.found()
            )));
        }
        if let Rhs::Scaled(_, other) = &rhs {
            if other.kind.is_duration() != lhs.kind.is_duration() {
                return Err(ExpectationError {
                    column: 1,
                    message: format!(
                        "{} and {} cannot be compared: one is a duration, the other a count",
                        lhs.name, other.name
                    ),
                });
            }
        }
        Ok(Self {
            text: text.trim().to_owned(),
            lhs,
            op,
            rhs,
        })
    }

    /// When every stretch of the run this expectation measures is over, given the phases and the
    /// run's length (`None` if a phase it names is missing).
    pub fn judged_at(&self, phases: &[PhaseSpec], duration: Micros) -> Option<Micros> {
        self.metrics()
            .iter()
            .map(|m| m.region.span(phases, duration).map(|(_, to)| to))
            .try_fold(0, |latest, to| to.map(|to| latest.max(to)))
    }

    /// Every metric it names, left first.
    pub fn metrics(&self) -> Vec<&Metric> {
        let mut metrics = vec![&self.lhs];
        if let Rhs::Scaled(_, metric) = &self.rhs {
            metrics.push(metric);
        }
        metrics
    }
}

/// A metric as measured at some moment of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    /// Its value, and whether it is final (its stretch of the run is over).
    Value {
        /// The value (ms for durations).
        value: f64,
        /// Whether the stretch it covers is over: the value will not change.
        final_: bool,
    },
    /// Not measurable yet: why (the phase has not begun, the pipeline is not quiet).
    Pending(String),
    /// Not measurable in this run: why (no such service, no pipeline in this mode).
    Unavailable(String),
}

/// Where an expectation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It holds, for good.
    Pass,
    /// It does not hold, for good.
    Fail,
    /// It holds so far, but its stretch of the run is not over.
    Holding,
    /// It does not hold so far, and its stretch of the run is not over.
    NotYet,
    /// Not measurable (yet, or in this run).
    Pending,
}

/// An expectation judged: the values measured and the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The expectation as written.
    pub that: String,
    /// Its caption.
    pub says: Option<String>,
    /// The status.
    pub status: Status,
    /// The measured values, as shown: `12.3 ms ≥ 5 × 0.41 ms`, or why there are none.
    pub measured: String,
    /// When its stretch of the run ends and it is judged for good (`None`: at the end of a
    /// script, or not known), so that a page can say "judged at 0:30".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<Micros>,
    /// When it was seen settled (passed or failed for good): the moment its values were taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<Micros>,
}

/// The verdicts `fresh` as the page shows them after `old`: going forward, a checkpoint settled
/// (passed or failed) keeps the verdict it was settled with — the page plays on past the
/// scenario's end, where its totals move and its verdicts must not; after going back in time
/// (`went_back`), every verdict is the fresh one.
pub fn keep_settled(old: &[Verdict], fresh: Vec<Verdict>, went_back: bool) -> Vec<Verdict> {
    let settled = |v: &Verdict| matches!(v.status, Status::Pass | Status::Fail);
    fresh
        .into_iter()
        .enumerate()
        .map(|(i, verdict)| match old.get(i) {
            Some(old) if !went_back && settled(old) && old.that == verdict.that => old.clone(),
            _ => verdict,
        })
        .collect()
}

/// Whether every verdict is settled for good (passed or failed), and there is at least one.
pub fn settled(verdicts: &[Verdict]) -> bool {
    !verdicts.is_empty()
        && verdicts
            .iter()
            .all(|v| matches!(v.status, Status::Pass | Status::Fail))
}

/// A measured value as shown: with its unit, and for a count what it counts (`12 errors`),
/// so that a checkpoint reads without its rule.
fn show(metric: &Metric, value: f64) -> String {
    let plain = show_threshold(metric, value);
    let (one, many) = match metric.kind {
        MetricKind::Ops => ("operation", "operations"),
        MetricKind::FoundNothing => ("found nothing", "found nothing"),
        MetricKind::Errors(_) => ("error", "errors"),
        MetricKind::Duplicates => ("duplicate", "duplicates"),
        MetricKind::FailedBatches => ("failed batch", "failed batches"),
        MetricKind::Deadlocks => ("deadlock", "deadlocks"),
        MetricKind::Statements => ("statement", "statements"),
        MetricKind::StepsFailed => ("failed step", "failed steps"),
        MetricKind::Missed => ("missed", "missed"),
        MetricKind::Diff => ("row differs", "rows differ"),
        _ => return plain,
    };
    format!("{plain} {}", if value == 1.0 { one } else { many })
}

/// A number as a threshold is shown: with the left side's unit (ms, /s), no noun.
fn show_threshold(metric: &Metric, value: f64) -> String {
    let rounded = if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    };
    if metric.kind.is_duration() {
        format!("{rounded} ms")
    } else if metric.kind == MetricKind::Throughput {
        format!("{rounded}/s")
    } else {
        rounded
    }
}

impl Expectation {
    /// Judges the expectation with `measure` (the world's measurements).
    pub fn judge(&self, says: Option<String>, measure: impl Fn(&Metric) -> Measured) -> Verdict {
        let verdict = |status, measured| Verdict {
            that: self.text.clone(),
            says: says.clone(),
            status,
            measured,
            judged_at: None,
            settled_at: None,
        };
        let (left, left_final) = match measure(&self.lhs) {
            Measured::Value { value, final_ } => (value, final_),
            Measured::Pending(why) | Measured::Unavailable(why) => {
                return verdict(Status::Pending, why)
            }
        };
        let (right, right_final, right_text) = match &self.rhs {
            Rhs::Number(n) => (*n, true, show_threshold(&self.lhs, *n)),
            Rhs::Scaled(factor, metric) => match measure(metric) {
                Measured::Value { value, final_ } => {
                    let text = if *factor == 1.0 {
                        show(metric, value)
                    } else {
                        format!("{factor} × {}", show(metric, value))
                    };
                    (factor * value, final_, text)
                }
                Measured::Pending(why) | Measured::Unavailable(why) => {
                    return verdict(Status::Pending, format!("{}; {why}", show(&self.lhs, left)))
                }
            },
        };
        let holds = self.op.holds(left, right);
        let measured = format!(
            "{} {} {right_text}",
            show(&self.lhs, left),
            match self.op {
                Op::Le => "≤",
                Op::Ge => "≥",
                Op::Ne => "≠",
                other => other.symbol(),
            }
        );
        // A count that only grows, compared with a fixed number, is settled early: once above it
        // stays above.
        let settled_early = matches!(self.rhs, Rhs::Number(_))
            && self.lhs.kind.only_grows()
            && match self.op {
                Op::Gt | Op::Ge => holds,
                Op::Lt | Op::Le | Op::Eq => !holds && left > right,
                Op::Ne => holds && left > right,
            };
        let status = match (left_final && right_final) || settled_early {
            true if holds => Status::Pass,
            true => Status::Fail,
            false if holds => Status::Holding,
            false => Status::NotYet,
        };
        verdict(status, measured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expectation {
        Expectation::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn the_examples_of_the_issue_parse() {
        let e = parse("errors(billing, schema) > 0 after rename");
        assert_eq!(e.lhs.kind, MetricKind::Errors(Some(ErrorKind::Schema)));
        assert_eq!(e.lhs.region, Region::After("rename".into()));
        assert_eq!(e.rhs, Rhs::Number(0.0));
        let e = parse(
            "p99(orders.place_order) during report >= 5 * p99(orders.place_order) before report",
        );
        assert_eq!(e.lhs.kind, MetricKind::Latency(Quantile::P99));
        assert_eq!(e.lhs.target_parts(), ("orders", Some("place_order")));
        let Rhs::Scaled(factor, other) = &e.rhs else {
            panic!("{e:?}")
        };
        assert_eq!(*factor, 5.0);
        assert_eq!(other.region, Region::Before("report".into()));
        assert_eq!(parse("duplicates(jobs) == 0").op, Op::Eq);
        let e = parse("staleness_p95(billing.orders) < 2s");
        assert_eq!(e.rhs, Rhs::Number(2000.0), "durations compare in ms");
        assert_eq!(
            parse("diff(analytics.orders) == 0 at end").lhs.kind,
            MetricKind::Diff
        );
        let e = parse("query(shop, \"SELECT COUNT(*) FROM orders WHERE status = 'x'\") >= 1");
        assert_eq!(e.lhs.target, "shop");
        assert!(e.lhs.sql.as_deref().is_some_and(|s| s.contains("'x'")));
        assert_eq!(
            parse("steps_failed(serialization) == 1").lhs.target,
            "serialization"
        );
    }

    #[test]
    fn errors_name_the_column_and_what_was_expected() {
        let cases = [
            ("errrors(billing) > 0", 1, "no metric \"errrors\""),
            ("errors(billing) = 0", 17, "write =="),
            ("errors(billing) > 2s", 20, "a count, not a duration"),
            ("errors(billing, nope) > 0", 17, "no error kind \"nope\""),
            (
                "p99(orders) durin report > 1",
                13,
                "expected before, during",
            ),
            ("p99(orders) during > 1", 20, "a phase's name"),
            ("p99(orders) >", 14, "a number or a metric"),
            ("staleness_p95(b.t) after x < 1s", 1, "not after a phase"),
            ("p99(orders) > 2 * errors(orders)", 1, "cannot be compared"),
            ("query(shop, SELECT) > 1", 1, "quoted SELECT"),
            ("p99(orders) > 1 1", 17, "unexpected 1"),
            ("ops(x) > 'open", 10, "not closed"),
        ];
        for (text, column, message) in cases {
            let error = Expectation::parse(text).expect_err(text);
            assert_eq!(error.column, column, "{text}: {error}");
            assert!(error.message.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn regions_cover_their_stretch_of_the_run() {
        let phases = [PhaseSpec {
            name: "report".into(),
            from: SimDuration(10),
            to: Some(SimDuration(20)),
        }];
        let span = |r: Region| r.span(&phases, 30);
        assert_eq!(span(Region::Before("report".into())), Some((0, 10)));
        assert_eq!(span(Region::During("report".into())), Some((10, 20)));
        assert_eq!(span(Region::After("report".into())), Some((20, 30)));
        assert_eq!(span(Region::Whole), Some((0, 30)));
        assert_eq!(span(Region::After("nope".into())), None);
    }

    #[test]
    fn judging_settles_growing_counts_early_and_the_rest_at_the_end() {
        let value = |value, final_| Measured::Value { value, final_ };
        let e = parse("errors(billing) > 0");
        assert_eq!(e.judge(None, |_| value(0.0, false)).status, Status::NotYet);
        assert_eq!(e.judge(None, |_| value(3.0, false)).status, Status::Pass);
        assert_eq!(e.judge(None, |_| value(0.0, true)).status, Status::Fail);
        let e = parse("duplicates(billing) == 0");
        assert_eq!(e.judge(None, |_| value(0.0, false)).status, Status::Holding);
        assert_eq!(e.judge(None, |_| value(2.0, false)).status, Status::Fail);
        let e = parse("p99(a) during r >= 5 * p99(a) before r");
        let verdict = e.judge(None, |m| match m.region {
            Region::During(_) => value(50.0, true),
            _ => value(2.0, true),
        });
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(verdict.measured, "50 ms ≥ 5 × 2 ms");
        let pending = e.judge(Some("x".into()), |_| Measured::Pending("not yet".into()));
        assert_eq!(pending.status, Status::Pending);
        assert_eq!(pending.says.as_deref(), Some("x"));
    }

    #[test]
    fn equality_allows_rounding() {
        assert!(Op::Eq.holds(0.0, 0.0));
        assert!(Op::Eq.holds(1000.0, 1000.4));
        assert!(!Op::Eq.holds(1.0, 1.1));
        assert!(Op::Le.holds(1.0, 1.0));
        assert!(!Op::Lt.holds(1.0, 1.0));
    }
}
