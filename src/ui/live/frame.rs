//! Playing: each animation frame advances the run by the wall-clock time since the last one
//! times the speed, within a frame budget, so that the page stays responsive at any speed; a
//! link's time is replayed a slice per frame, and a script plays one step at a time.

use super::{LiveState, SPEEDS};
use crate::sim::clock::Micros;
use crate::sim::view::clock_text;
use crate::ui::browser;
use std::rc::Rc;

/// How long one frame may spend advancing the simulation (ms of wall time).
pub const FRAME_BUDGET_MS: f64 = 8.0;

/// How often the panels are rebuilt while playing (ms of wall time).
pub const VIEW_EVERY_MS: f64 = 100.0;

/// How often a playing script issues its next step (ms of wall time).
pub const SCRIPT_STEP_MS: f64 = 1_200.0;

/// How often the address is brought up to date while playing (ms of wall time): browsers limit
/// how often a page may rewrite it.
pub const LINK_EVERY_MS: f64 = 1_000.0;

/// How the last frame went, for the benchmark page (the clock's `data-step-ms` and
/// `data-view-ms`): where a slow frame's time went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameStats {
    /// Wall time spent advancing the simulation in the last frame (ms).
    pub last_step_ms: f64,
    /// Wall time spent rebuilding the panels' view in the last frame (ms; 0 when it was not).
    pub last_view_ms: f64,
    /// Simulated time advanced in the last frame.
    pub last_advance: Micros,
}

/// The speed actually kept while playing, measured over about a second of wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeedMeter {
    /// Wall ms measured so far in this window.
    wall_ms: f64,
    /// Simulated µs advanced in this window.
    simulated: Micros,
    /// The last whole window's speed (simulated seconds per wall second).
    pub achieved: Option<f64>,
}

impl SpeedMeter {
    fn add(&mut self, wall_ms: f64, simulated: Micros) {
        self.wall_ms += wall_ms;
        self.simulated += simulated;
        if self.wall_ms >= 1_000.0 {
            self.achieved = Some(self.simulated as f64 / 1_000.0 / self.wall_ms);
            self.wall_ms = 0.0;
            self.simulated = 0;
        }
    }
}

impl LiveState {
    /// The animation frame at wall time `at` (ms): `next` advanced, or `self` unchanged when
    /// there is nothing to draw (so that nothing is drawn again).
    pub(super) fn frame(self: Rc<Self>, mut next: LiveState, at: f64, wall: f64) -> Rc<Self> {
        if let Some(target) = next.seeking {
            // A link's time, replayed a budgeted slice per frame.
            let deadline = browser::now_ms() + FRAME_BUDGET_MS * 4.0;
            let reached = next
                .playback_mut()
                .run_until(target, || browser::now_ms() < deadline);
            let now = next.playback().now();
            next.now = now;
            next.horizon = next.horizon.max(now);
            if reached {
                next.seeking = None;
                next.info = None;
                let next = next.with_view(wall);
                next.remember();
                return Rc::new(next);
            }
            next.info = Some(format!(
                "{} {}… {:.0} %",
                if next.embed.is_some() {
                    "Running to"
                } else {
                    "Replaying the link's run to"
                },
                clock_text(target),
                now as f64 / target.max(1) as f64 * 100.0
            ));
            return Rc::new(next);
        }
        if !next.playing {
            return self;
        }
        if next.view.script.is_some() && next.view.services.iter().all(|s| s.internal) {
            // A script plays as one step every SCRIPT_STEP_MS, until it has ended.
            if wall - next.last_step < SCRIPT_STEP_MS {
                return self;
            }
            next.last_step = wall;
            let stepped = next.run.borrow_mut().script_step();
            match stepped {
                Ok(true) => {}
                Ok(false) => next.playing = false,
                Err(error) => {
                    next.notice = Some(error.to_string());
                    next.playing = false;
                }
            }
            let next = next.with_view(wall);
            next.remember();
            return Rc::new(next);
        }
        let elapsed = next
            .last_frame
            .map_or(0.0, |last| (at - last).clamp(0.0, 100.0));
        next.last_frame = Some(at);
        let started = browser::now_ms();
        let deadline = started + FRAME_BUDGET_MS;
        let speed = SPEEDS
            .get(next.speed)
            .map_or(Some(1.0), |(speed, _)| *speed);
        let advanced = next
            .run
            .borrow_mut()
            .play(elapsed, speed, || browser::now_ms() < deadline);
        let events = next.playback().world().events();
        next.events = events;
        next.now = advanced.to;
        next.horizon = next.horizon.max(advanced.to);
        let advance = advanced.to - advanced.from;
        next.frames = FrameStats {
            last_step_ms: browser::now_ms() - started,
            last_view_ms: 0.0,
            last_advance: advance,
        };
        next.meter.add(elapsed, advance);
        if wall - next.last_link >= LINK_EVERY_MS {
            next.last_link = wall;
            next.remember();
        }
        Rc::new(
            if wall - next.last_view >= VIEW_EVERY_MS || advanced.reached_end {
                let viewed = browser::now_ms();
                let mut next = next.with_view(wall);
                next.frames.last_view_ms = browser::now_ms() - viewed;
                next
            } else {
                next
            },
        )
    }
}
