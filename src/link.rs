//! The page's address: what a link carries (scenario, seed, speed, simulated time, isolation
//! levels, and the user's own commands at their simulated times) written and read back, so that
//! a link reproduces what was on screen — and what the student did. Pure text handling, tested
//! natively; the page reads and writes the address through `ui::browser`.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::lock_plan::Isolation;
use crate::sim::playback::RecordedCommand;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use thiserror::Error;

/// Links longer than this (bytes) are cut by some browsers, chat tools and mail programs: the
/// page says so when a run's link grows past it.
pub const LINK_LIMIT: usize = 8 * 1024;

/// The most a packed link value may unpack to (a tampered link cannot make the page allocate
/// more).
const UNPACKED_LIMIT: usize = 1024 * 1024;

/// Why a packed part of a link cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    /// Not URL-safe base64 (cut short, or typed over).
    #[error("it is not the text the page wrote (not URL-safe base64)")]
    NotBase64,
    /// Not compressed data, or data that unpacks to too much.
    #[error("it does not unpack (cut short or changed)")]
    NotPacked,
    /// Unpacked, but not what the page wrote.
    #[error("it unpacks to something the page did not write: {0}")]
    NotRecognised(String),
}

/// Text packed for a link: DEFLATE-compressed, then URL-safe base64 without padding.
pub fn pack(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 9))
}

/// The text [`pack`] packed.
///
/// # Errors
///
/// [`LinkError`] for anything [`pack`] did not write.
pub fn unpack(packed: &str) -> Result<String, LinkError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(packed.trim())
        .map_err(|_| LinkError::NotBase64)?;
    let unpacked = miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, UNPACKED_LIMIT)
        .map_err(|_| LinkError::NotPacked)?;
    String::from_utf8(unpacked).map_err(|_| LinkError::NotRecognised("not text".to_owned()))
}

/// The user's commands for a link (`None` when there are none): their JSON, packed.
pub fn commands_for_link(commands: &[RecordedCommand]) -> Option<String> {
    if commands.is_empty() {
        return None;
    }
    serde_json::to_string(commands).ok().map(|json| pack(&json))
}

/// The user's commands from a link.
///
/// # Errors
///
/// [`LinkError`] when the text is not what [`commands_for_link`] wrote.
pub fn commands_from_link(packed: &str) -> Result<Vec<RecordedCommand>, LinkError> {
    let json = unpack(packed)?;
    serde_json::from_str(&json).map_err(|e| LinkError::NotRecognised(e.to_string()))
}

/// Playback speeds: simulated seconds per wall second (`None`: as fast as the budget allows).
pub const SPEEDS: &[(Option<f64>, &str)] = &[
    (Some(0.25), "¼×"),
    (Some(1.0), "1×"),
    (Some(4.0), "4×"),
    (Some(16.0), "16×"),
    (None, "max"),
];

/// A speed from a link: `4`, `4x`, `0.25`, `max`.
pub fn speed_from_link(text: &str) -> Option<usize> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("max") {
        return SPEEDS.iter().position(|(speed, _)| speed.is_none());
    }
    let text = text.trim_end_matches(['x', '×']);
    let value: f64 = text.parse().ok()?;
    SPEEDS
        .iter()
        .position(|(speed, _)| speed.is_some_and(|s| (s - value).abs() < 1e-9))
}

/// A speed for a link (`4`, `0.25`, `max`).
pub fn speed_for_link(index: usize) -> String {
    match SPEEDS.get(index).and_then(|(speed, _)| *speed) {
        Some(speed) => format!("{speed}"),
        None => "max".to_owned(),
    }
}

/// A simulated time from a link: `12.3s`, `12.3`, `1500ms`.
pub fn time_from_link(text: &str) -> Option<Micros> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 1_000.0),
        None => (text.strip_suffix('s').unwrap_or(text), 1_000_000.0),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale).round() as Micros)
}

/// A simulated time for a link, exact to the microsecond (`12.3s`, `2.550125s`).
pub fn time_for_link(at: Micros) -> String {
    let whole = at / SECOND;
    let fraction = at % SECOND;
    if fraction == 0 {
        format!("{whole}s")
    } else {
        let digits = format!("{fraction:06}");
        format!("{whole}.{}s", digits.trim_end_matches('0'))
    }
}

/// Isolation overrides from a link: `shop:snapshot,bank:serializable`.
pub fn isolation_from_link(text: &str) -> Result<Vec<(String, Isolation)>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (database, level) = pair
                .split_once(':')
                .ok_or_else(|| format!("\"{pair}\" is not database:level"))?;
            let level = Isolation::from_name(level.trim())
                .ok_or_else(|| format!("\"{level}\" is not an isolation level"))?;
            Ok((database.trim().to_owned(), level))
        })
        .collect()
}

/// Isolation overrides for a link (`None` when there are none).
pub fn isolation_for_link(isolation: &[(String, Isolation)]) -> Option<String> {
    (!isolation.is_empty()).then(|| {
        isolation
            .iter()
            .map(|(database, level)| format!("{database}:{}", level.name()))
            .collect::<Vec<_>>()
            .join(",")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_times_round_trip_to_the_microsecond() {
        for at in [0, 1_000_000, 12_300_000, 2_550_125, 61_000_001] {
            assert_eq!(time_from_link(&time_for_link(at)), Some(at), "{at}");
        }
        assert_eq!(time_from_link("1500ms"), Some(1_500_000));
        assert_eq!(time_from_link("soon"), None);
        assert_eq!(time_from_link("-1s"), None);
    }

    #[test]
    fn link_speeds_and_isolation_levels_parse() {
        assert_eq!(speed_from_link("4"), Some(2));
        assert_eq!(speed_from_link("4x"), Some(2));
        assert_eq!(speed_from_link("max"), Some(4));
        assert_eq!(speed_from_link("3"), None);
        assert_eq!(speed_for_link(2), "4");
        let levels = isolation_from_link("shop:snapshot,bank:serializable").expect("parses");
        assert_eq!(
            isolation_for_link(&levels).as_deref(),
            Some("shop:repeatable_read,bank:serializable"),
            "an old link's `snapshot` is read as `repeatable_read`"
        );
        assert!(isolation_from_link("shop:fast").is_err());
    }

    #[test]
    fn commands_round_trip_through_a_link_and_a_tampered_one_is_refused() {
        use crate::sim::world::Command;
        let commands = vec![
            RecordedCommand {
                at: 2_000_000,
                command: Command::SetRate {
                    service: "orders".into(),
                    operation: "place_order".into(),
                    rate_per_s: 80.0,
                },
            },
            RecordedCommand {
                at: 12_000_000,
                command: Command::RunSql {
                    database: "shop".into(),
                    sql: "SELECT status, COUNT(*) FROM orders GROUP BY status".into(),
                },
            },
        ];
        assert_eq!(commands_for_link(&[]), None);
        let packed = commands_for_link(&commands).expect("packs");
        assert!(packed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(commands_from_link(&packed), Ok(commands));
        // Cut short, typed over, or something else packed: an error, never a panic.
        assert!(commands_from_link(&packed[..packed.len() / 2]).is_err());
        assert_eq!(commands_from_link("not base64!"), Err(LinkError::NotBase64));
        assert_eq!(commands_from_link("AAAA"), Err(LinkError::NotPacked));
        assert!(matches!(
            commands_from_link(&pack("{\"do\": 1}")),
            Err(LinkError::NotRecognised(_))
        ));
        let mut flipped = packed.into_bytes();
        for i in 0..flipped.len() {
            flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
            let _ = commands_from_link(std::str::from_utf8(&flipped).expect("ascii"));
        }
    }
}
