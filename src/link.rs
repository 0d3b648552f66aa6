//! The page's address: what a link carries (scenario, seed, speed, simulated time, isolation
//! levels) written and read back, so that a link reproduces what was on screen. Pure text
//! handling, tested natively; the page reads and writes the address through `ui::browser`.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::lock_plan::Isolation;

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
}
