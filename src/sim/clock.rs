//! Simulated time: microseconds since the start of a run, and durations written for people.
//!
//! The simulation never reads a wall clock. Time is a `u64` count of microseconds that only the
//! event loop moves forward. Scenario files write durations as `"250ms"`, `"1.5s"`, `"2m"`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Simulated time or a duration, in microseconds.
pub type Micros = u64;

/// Microseconds in a millisecond.
pub const MS: Micros = 1_000;
/// Microseconds in a second.
pub const SECOND: Micros = 1_000_000;

/// A duration in a scenario file: a number and a unit (`us`, `ms`, `s`, `m`), such as
/// `"250ms"`, `"1.5s"` or `"2m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SimDuration(pub Micros);

impl SimDuration {
    /// The duration in microseconds.
    pub fn micros(self) -> Micros {
        self.0
    }

    /// Parses `"250ms"`, `"1.5s"`, `"2m"`, `"40us"`.
    ///
    /// # Errors
    ///
    /// A plain-language message when the text is not a non-negative number with a unit.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(|| {
                format!("\"{text}\" has no unit: write for example \"250ms\" or \"2s\"")
            })?;
        let (number, unit) = text.split_at(split);
        let number: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\" does not start with a number"))?;
        let scale = match unit.trim() {
            "us" | "µs" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "m" | "min" => 60e6,
            other => {
                return Err(format!(
                    "\"{other}\" is not a unit of time: use us, ms, s or m"
                ))
            }
        };
        if !number.is_finite() || number < 0.0 {
            return Err(format!("\"{text}\" must not be negative"));
        }
        let micros = (number * scale).round();
        if micros > 1e15 {
            return Err(format!("\"{text}\" is too long"));
        }
        // In range and non-negative: the cast is exact for whole microseconds.
        Ok(Self(micros as Micros))
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_micros(self.0))
    }
}

/// Formats microseconds for people: `"850us"`, `"12.5ms"`, `"3.2s"`, `"2m 05s"`.
pub fn format_micros(us: Micros) -> String {
    if us < MS {
        format!("{us}us")
    } else if us < SECOND {
        trim_zeros(format!("{:.1}ms", us as f64 / 1e3))
    } else if us < 60 * SECOND {
        trim_zeros(format!("{:.1}s", us as f64 / 1e6))
    } else {
        format!("{}m {:02}s", us / (60 * SECOND), (us / SECOND) % 60)
    }
}

fn trim_zeros(text: String) -> String {
    text.replace(".0ms", "ms").replace(".0s", "s")
}

impl SimDuration {
    /// The duration exactly, in the largest unit that divides it (`"2m"`, `"90s"`, `"250ms"`,
    /// `"1500us"`): what [`SimDuration::parse`] reads back to the same microsecond (the
    /// `Display` form rounds, for people).
    pub fn exact(self) -> String {
        let us = self.0;
        if us == 0 {
            "0s".to_owned()
        } else if us.is_multiple_of(60 * SECOND) {
            format!("{}m", us / (60 * SECOND))
        } else if us.is_multiple_of(SECOND) {
            format!("{}s", us / SECOND)
        } else if us.is_multiple_of(MS) {
            format!("{}ms", us / MS)
        } else {
            format!("{us}us")
        }
    }
}

impl Serialize for SimDuration {
    /// Written exactly ([`SimDuration::exact`]), so that a scenario sent as JSON (to a worker)
    /// reads back the same.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.exact())
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for SimDuration {
    fn schema_name() -> String {
        "Duration".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let mut schema = schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            ..Default::default()
        };
        schema.string().pattern =
            Some(r"^\s*[0-9]+(\.[0-9]+)?\s*(us|µs|ms|s|m|min)\s*$".to_owned());
        schema.metadata().description = Some(
            "A duration: a number and a unit (us, ms, s, m), e.g. \"250ms\", \"1.5s\".".to_owned(),
        );
        schema.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_is_written_exactly_and_reads_back_the_same() {
        for us in [
            0,
            40,
            1_500,
            250 * MS,
            12_345 * MS,
            90 * SECOND,
            120 * SECOND,
            3_723_000_001,
        ] {
            let written = SimDuration(us).exact();
            assert_eq!(
                SimDuration::parse(&written),
                Ok(SimDuration(us)),
                "{written}"
            );
        }
        assert_eq!(SimDuration(120 * SECOND).exact(), "2m");
        assert_eq!(SimDuration(1_500).exact(), "1500us");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(SimDuration::parse("250ms"), Ok(SimDuration(250 * MS)));
        assert_eq!(SimDuration::parse("1.5s"), Ok(SimDuration(1_500_000)));
        assert_eq!(SimDuration::parse(" 2m "), Ok(SimDuration(120 * SECOND)));
        assert_eq!(SimDuration::parse("40us"), Ok(SimDuration(40)));
        for bad in ["", "12", "ms", "-1s", "3 parsecs", "1e400s"] {
            assert!(SimDuration::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn micros_format_for_people() {
        assert_eq!(format_micros(850), "850us");
        assert_eq!(format_micros(12_500), "12.5ms");
        assert_eq!(format_micros(3_000_000), "3s");
        assert_eq!(format_micros(125 * SECOND), "2m 05s");
    }
}
