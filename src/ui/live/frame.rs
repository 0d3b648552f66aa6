//! Playing: each animation frame moves the run ([`LiveRun::tick`](crate::sim::live_run::LiveRun::tick):
//! the wall-clock time since the last frame times the speed, within a frame budget, so that the
//! page stays responsive at any speed; a link's time a slice per frame; a script one step at a
//! time), and the page takes in what the frame did: the clock, the speed kept, the frame's
//! figures, the address now and then.

use super::{LiveState, SPEEDS};
use crate::authoring::{ScenarioDraft, ScenarioSource};
use crate::sim::clock::Micros;
use crate::sim::live_run::{Motion, Shown, Tick};
use crate::sim::run_requests::RunRequest;
use crate::sim::run_server::FromRun;
use crate::ui::recovery::Crash;
use crate::ui::run_worker;
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
    /// Whether the speed chosen is said not to be kept. It is said once a window falls below
    /// 85 % of the speed, and taken back once one reaches 95 %: a speed kept at about 90 %
    /// does not make the note come and go every second.
    pub falling_short: bool,
}

impl SpeedMeter {
    fn add(&mut self, wall_ms: f64, simulated: Micros, chosen: Option<f64>) {
        self.wall_ms += wall_ms;
        self.simulated += simulated;
        if self.wall_ms >= 1_000.0 {
            let achieved = self.simulated as f64 / 1_000.0 / self.wall_ms;
            self.achieved = Some(achieved);
            self.wall_ms = 0.0;
            self.simulated = 0;
            if let Some(chosen) = chosen {
                if achieved < 0.85 * chosen {
                    self.falling_short = true;
                } else if achieved >= 0.95 * chosen {
                    self.falling_short = false;
                }
            }
        }
    }
}

impl LiveState {
    /// How the page asks its run to move now: to a link's time, playing at its speed, or not.
    pub(super) fn motion(&self) -> Motion {
        match (self.seeking, self.playing) {
            (Some(target), _) => Motion::RunningTo(target),
            (None, true) => Motion::Playing {
                speed: SPEEDS
                    .get(self.speed)
                    .map_or(Some(1.0), |(speed, _)| *speed),
            },
            (None, false) => Motion::Still,
        }
    }

    /// The animation frame: the run in the worker is told how to move, if that changed (its
    /// ticks come as news: [`LiveState::take_run_news`]). Nothing is drawn again.
    pub(super) fn frame(self: Rc<Self>) -> Rc<Self> {
        if let Some(run) = self.run {
            run_worker::send_move(run, self.motion(), &self.viewer, Some(self.now));
        }
        self
    }

    /// The news of the run in the worker: it started, answered, or moved.
    pub(super) fn take_run_news(
        self: Rc<Self>,
        next: LiveState,
        news: &FromRun,
        wall: f64,
    ) -> Rc<Self> {
        // The worker's answer to the editor's Apply: the text runs, or its problem is said.
        if let FromRun::Checked { id, problem } = news {
            return match next.applying.clone() {
                Some(applying) if applying.id == *id => {
                    let mut next = match problem {
                        None => next.apply_checked(&applying),
                        Some(problem) => next.apply_refused(&applying.text, problem.clone()),
                    };
                    next.applying = None;
                    next.remember();
                    Rc::new(next)
                }
                _ => self,
            };
        }
        let Some(current) = next.run else {
            return self;
        };
        match news {
            // A run replayed as it starts (after a crash, a run file) shows itself with the
            // replay's answer: the panels keep what they show until then.
            FromRun::Started { run, result: Ok(_) }
                if *run == current && next.asked_to.is_some() =>
            {
                let mut next = next;
                next.starting = false;
                Rc::new(next)
            }
            FromRun::Started {
                run,
                result: Ok(shown),
            } if *run == current => Rc::new(next.take_shown((**shown).clone())),
            FromRun::Answer {
                run, answer, shown, ..
            } if *run == current => {
                let changed = answer.changed_the_run();
                let next = next
                    .take_shown((**shown).clone())
                    .take_answer(answer.clone());
                if changed {
                    next.remember();
                    if next.share {
                        return Rc::new(next.ask(RunRequest::Exports));
                    }
                }
                Rc::new(next)
            }
            FromRun::Frame { run, tick, shown } if *run == current => {
                let motion = next.motion();
                let shown = shown.as_deref().cloned();
                self.take_tick(next, motion, tick.clone(), shown, wall)
            }
            // The worker is gone: the run comes back where it was, in a new worker (or on the
            // page), without the statement that stopped the engine, as after a crash on the page.
            FromRun::Failed { why, statement } => {
                let crash = Crash {
                    run: next.saved_run(),
                    statement: statement.clone(),
                    message: why.clone(),
                };
                Rc::new(Self::after_crash(&next, crash))
            }
            // What only building the run finds (a table the SQL names that is not there): the
            // built-in of that name instead (or the default), saying why; an edited scenario's
            // text stays in the editor with the problem at its line.
            FromRun::Started {
                run,
                result: Err(why),
            } if *run == current => Rc::new(next.instead_of_unbuilt(why.clone())),
            // News of a run the page has left.
            _ => self,
        }
    }

    /// The run of a scenario that reads but does not build (`why`): the built-in of its name
    /// instead, or the default one, with a notice; an edited text stays in the editor, with
    /// the problem at its line.
    fn instead_of_unbuilt(&self, why: crate::sim::scenario::ScenarioError) -> LiveState {
        let edited = self.source.edited_text();
        let problem = match edited {
            Some(text) => why.located_in(text),
            None => why,
        };
        let named = ScenarioSource::Builtin(self.scenario_name.clone());
        let source = if named.text().is_some() && self.source != named {
            named
        } else {
            ScenarioSource::Builtin(super::DEFAULT_SCENARIO.to_owned())
        };
        let mut instead = self.carry_over(LiveState::load(&source, None, Vec::new(), None));
        instead.notice = Some(format!(
            "This scenario has a problem — {problem}: showing \"{}\" instead.{}",
            instead.scenario_name,
            if edited.is_some() {
                " Its text is in the scenario editor, to fix and apply."
            } else {
                ""
            }
        ));
        if let Some(text) = edited {
            instead.editor = Some(Rc::new(ScenarioDraft::failed(text.to_owned(), problem)));
            instead.editor_note = Some(
                "This scenario reads, but building its run found a problem at the line marked."
                    .to_owned(),
            );
        }
        instead.remember();
        instead
    }

    /// The run back after its worker failed: in a new worker (or on the page), where it was,
    /// without the statement that stopped the engine, with the page's settings.
    fn after_crash(next: &LiveState, crash: Crash) -> LiveState {
        let mut restored = next.carry_over(LiveState::restore(crash));
        restored.playing = false;
        // A new worker replays the run: until it answers, the panels keep showing what they
        // showed (not the run at 0 s, which the page built to start it).
        if restored.run.is_some() {
            restored = restored.showing_as(next);
        }
        restored
    }

    /// What a tick of the run did, taken into `next` (`shown`: what the run shows, when the
    /// tick took it again).
    fn take_tick(
        self: Rc<Self>,
        mut next: LiveState,
        motion: Motion,
        tick: Tick,
        shown: Option<Shown>,
        wall: f64,
    ) -> Rc<Self> {
        let show = |next: LiveState| match shown.clone() {
            Some(shown) => next.take_shown(shown),
            None => next,
        };
        // The clock is the time of what the panels show ([`LiveState::take_shown`]), which a
        // playing run takes again every [`VIEW_EVERY_MS`](crate::sim::live_run::VIEW_EVERY_MS):
        // the run's own time runs a little ahead of it (1.6 s at 16×), and a pause goes back to
        // what was shown (the run in the worker is told the clock's time). The scrubber's end and a replay's progress follow the run.
        if !matches!(motion, Motion::Still) {
            next.horizon = next.horizon.max(tick.advanced.to);
        }
        match motion {
            // A paused run in a worker shows itself once told it is paused.
            // (A tick that played is one sent before the worker heard of the pause: dropped.)
            Motion::Still => {
                return match shown {
                    Some(shown) if tick.advanced.from == tick.advanced.to => {
                        Rc::new(next.take_shown(shown))
                    }
                    _ => self,
                }
            }
            _ if tick.idle() => return self,
            // The transport shows how far the replay has got (from the scrubber's end).
            Motion::RunningTo(_) if !tick.arrived => {
                next.replayed_to = tick.advanced.to;
                return Rc::new(next);
            }
            Motion::RunningTo(_) => {
                next.seeking = None;
                next.info = None;
                let next = show(next);
                next.remember();
                return Rc::new(next);
            }
            Motion::Playing { .. } => {}
        }
        if let Some(stepped) = &tick.script {
            match stepped {
                Ok(true) => {}
                Ok(false) => next.playing = false,
                Err(error) => {
                    next.notice = Some(error.to_string());
                    next.playing = false;
                }
            }
            let next = show(next);
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
        let chosen = SPEEDS.get(next.speed).and_then(|(speed, _)| *speed);
        next.meter.add(tick.elapsed_ms, advance, chosen);
        if wall - next.last_link >= LINK_EVERY_MS {
            next.last_link = wall;
            next.remember();
        }
        Rc::new(show(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn the_speed_note_comes_below_85_percent_and_goes_at_95() {
        let mut meter = SpeedMeter::default();
        let mut window = |speed: f64| {
            meter.add(1_000.0, (speed * 1_000_000.0) as Micros, Some(16.0));
            meter.falling_short
        };
        assert!(!window(15.0), "94 % of 16× is near enough");
        assert!(window(12.0), "75 % is said");
        assert!(window(14.5), "91 % keeps the note");
        assert!(!window(15.5), "97 % takes it back");
    }
}
