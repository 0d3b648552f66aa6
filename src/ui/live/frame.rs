//! Playing: each animation frame moves the run ([`LiveRun::tick`](crate::sim::live_run::LiveRun::tick):
//! the wall-clock time since the last frame times the speed, within a frame budget, so that the
//! page stays responsive at any speed; a link's time a slice per frame; a script one step at a
//! time), and the page takes in what the frame did: the clock, the speed kept, the frame's
//! figures, the address now and then.

use super::{LiveState, SPEEDS};
use crate::sim::clock::Micros;
use crate::sim::live_run::Motion;
use crate::sim::view::clock_text;
use crate::ui::browser;
use std::rc::Rc;

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
        let motion = match (next.seeking, next.playing) {
            (Some(target), _) => Motion::RunningTo(target),
            (None, true) => Motion::Playing {
                speed: SPEEDS
                    .get(next.speed)
                    .map_or(Some(1.0), |(speed, _)| *speed),
            },
            (None, false) => Motion::Still,
        };
        let tick = next
            .run
            .borrow_mut()
            .tick(at, motion, &next.viewer, browser::now_ms);
        next.now = tick.advanced.to;
        next.horizon = next.horizon.max(tick.advanced.to);
        match motion {
            Motion::Still => return self,
            _ if tick.idle() => return self,
            Motion::RunningTo(target) if !tick.arrived => {
                next.info = Some(format!(
                    "{} {}… {:.0} %",
                    if next.embed.is_some() {
                        "Running to"
                    } else {
                        "Replaying the link's run to"
                    },
                    clock_text(target),
                    next.now as f64 / target.max(1) as f64 * 100.0
                ));
                return Rc::new(next);
            }
            Motion::RunningTo(_) => {
                next.seeking = None;
                next.info = None;
                let next = next.show();
                next.remember();
                return Rc::new(next);
            }
            Motion::Playing { .. } => {}
        }
        if let Some(stepped) = tick.script {
            match stepped {
                Ok(true) => {}
                Ok(false) => next.playing = false,
                Err(error) => {
                    next.notice = Some(error.to_string());
                    next.playing = false;
                }
            }
            let next = next.show();
            next.remember();
            return Rc::new(next);
        }
        next.events = tick.events;
        let advance = tick.advanced.to - tick.advanced.from;
        next.frames = FrameStats {
            last_step_ms: tick.step_ms,
            last_view_ms: tick.view_ms.unwrap_or(0.0),
            last_advance: advance,
        };
        next.meter.add(tick.elapsed_ms, advance);
        if wall - next.last_link >= LINK_EVERY_MS {
            next.last_link = wall;
            next.remember();
        }
        Rc::new(if tick.view_ms.is_some() {
            next.show()
        } else {
            next
        })
    }
}
