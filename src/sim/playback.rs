//! A run the page can play, pause, step, scrub back and fork.
//!
//! Runs are deterministic, so going back in time is re-running: [`Playback::seek`] to an earlier
//! moment restores the nearest [checkpoint](crate::sim::checkpoint) before it (a copy of the
//! world kept every simulated second near the present, more sparsely further back) — or, before
//! the first, builds the world again from a copy of the databases as they were at time zero —
//! and replays the user's own commands, each at the simulated time it was first given, up to
//! that moment. Going forward again replays
//! the later recorded commands too, so the same timeline comes back. A command given after going
//! back *forks* the timeline: the recorded commands after that moment are dropped.
//!
//! A scenario's script is stepped by hand here ([`Command::ScriptStep`]), one statement at a time,
//! for the page's side-by-side view.
//!
//! Playing in real time asks for small slices: [`Playback::run_until`] stops early when the
//! caller's budget is spent (the page keeps each frame short), always after every event of one
//! instant, so stopping never splits an instant and a replay meets the same states.

use crate::sim::checkpoint::Checkpoints;
use crate::sim::clock::Micros;
use crate::sim::database::Database;
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::world::{Command, CommandError, World};

/// A user's command and when it was given.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordedCommand {
    /// Simulated time.
    pub at: Micros,
    /// The command.
    pub command: Command,
}

/// A world with its history of user commands.
pub struct Playback {
    scenario: Scenario,
    seed: u64,
    world: World,
    /// The databases as built at time zero (seeded data, setup SQL): going back starts from
    /// copies of these instead of building them again.
    pristine: Vec<Database>,
    commands: Vec<RecordedCommand>,
    /// How many recorded commands the current world has been given.
    applied: usize,
    /// The furthest time reached on this timeline.
    horizon: Micros,
    /// Copies of the world along this timeline, to go back from.
    checkpoints: Checkpoints,
}

impl std::fmt::Debug for Playback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playback")
            .field("scenario", &self.scenario.name)
            .field("seed", &self.seed)
            .field("now", &self.world.now())
            .field("commands", &self.commands.len())
            .field("checkpoints", &self.checkpoints)
            .finish()
    }
}

impl Playback {
    /// A playback of `scenario` with `seed`, at time zero.
    ///
    /// # Errors
    ///
    /// As [`World::with_seed`].
    pub fn new(scenario: Scenario, seed: u64) -> Result<Self, ScenarioError> {
        let pristine = World::build_databases(&scenario, seed)?;
        let mut world = World::with_databases(&scenario, seed, copies(&pristine))?;
        world.set_script_manual(true);
        Ok(Self {
            scenario,
            seed,
            world,
            pristine,
            commands: Vec::new(),
            applied: 0,
            horizon: 0,
            checkpoints: Checkpoints::default(),
        })
    }

    /// A world at time zero, from copies of the pristine databases, stepping its script by hand.
    fn fresh_world(&self) -> Result<World, ScenarioError> {
        let mut world = World::with_databases(&self.scenario, self.seed, copies(&self.pristine))?;
        world.set_script_manual(true);
        Ok(world)
    }

    /// Goes back to the latest checkpoint at or before `at`, or to time zero if there is none
    /// (with the recorded commands that world had been given).
    fn restore(&mut self, at: Micros) -> Result<(), ScenarioError> {
        let (world, applied) = match self.checkpoints.restore(at) {
            Some(kept) => kept,
            None => (self.fresh_world()?, 0),
        };
        self.replace_world(world);
        self.applied = applied;
        Ok(())
    }

    /// Puts `world` in place of the current one, which is thrown away ([`World::discard`]).
    fn replace_world(&mut self, world: World) {
        std::mem::replace(&mut self.world, world).discard();
    }

    /// The world as it is now.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Simulated time now.
    pub fn now(&self) -> Micros {
        self.world.now()
    }

    /// The furthest time reached on this timeline (the scrubber's end).
    pub fn horizon(&self) -> Micros {
        self.horizon
    }

    /// The user's commands on this timeline, in order.
    pub fn commands(&self) -> &[RecordedCommand] {
        &self.commands
    }

    /// Runs to `until`, giving recorded commands at their times; stops early (after a whole
    /// instant) once `keep_going` says no. Returns whether `until` was reached.
    pub fn run_until(&mut self, until: Micros, mut keep_going: impl FnMut() -> bool) -> bool {
        loop {
            let next_command = self
                .commands
                .get(self.applied)
                .map(|c| c.at)
                .filter(|at| *at <= until);
            let next_event = self.world.next_event_time().filter(|at| *at <= until);
            match (next_event, next_command) {
                (_, Some(at)) if next_event.is_none_or(|e| at < e) => {
                    self.world.step_until(at);
                    let command = self.commands[self.applied].command.clone();
                    let _ = self.world.apply(command);
                    self.applied += 1;
                }
                (Some(at), _) => self.world.step_until(at),
                (None, _) => {
                    self.world.step_until(until);
                    self.horizon = self.horizon.max(until);
                    return true;
                }
            }
            self.horizon = self.horizon.max(self.world.now());
            if self.checkpoints.due(self.world.now()) {
                self.checkpoints.take(&self.world, self.applied);
            }
            if !keep_going() {
                return false;
            }
        }
    }

    /// Processes the events of the next instant (and the commands recorded before it); returns
    /// whether there was one.
    pub fn step_instant(&mut self) -> bool {
        let next_command = self.commands.get(self.applied).map(|c| c.at);
        let Some(at) = self
            .world
            .next_event_time()
            .into_iter()
            .chain(next_command)
            .min()
        else {
            return false;
        };
        self.run_until(at, || true);
        true
    }

    /// Gives `command` now. Commands recorded after now are dropped: the timeline forks.
    ///
    /// # Errors
    ///
    /// As [`World::apply`]; a refused command is not recorded.
    pub fn apply(&mut self, command: Command) -> Result<String, CommandError> {
        let now = self.world.now();
        let result = self.world.apply(command.clone())?;
        self.commands.truncate(self.applied);
        self.checkpoints.fork_at(now, self.applied);
        self.commands.push(RecordedCommand { at: now, command });
        self.applied = self.commands.len();
        self.horizon = now;
        Ok(result)
    }

    /// Goes to time `at`: forward by running (from a checkpoint on the way, if one is
    /// nearer), back by running on from the latest checkpoint at or before `at` (or from the
    /// seed) with the recorded commands. Returns the time it ran on from.
    ///
    /// # Errors
    ///
    /// As [`World::with_seed`] (which cannot fail for a scenario that built once).
    pub fn seek(&mut self, at: Micros) -> Result<Micros, ScenarioError> {
        let now = self.world.now();
        let checkpoint = self.checkpoints.latest_at_or_before(at);
        let from = if at < now || checkpoint.is_some_and(|c| c > now) {
            self.restore(at)?;
            self.world.now()
        } else {
            now
        };
        self.run_until(at, || true);
        Ok(from)
    }

    /// How many checkpoints are kept, and their times (for the page, the benchmarks).
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// Plays `commands` (a run recorded earlier, in time order) from time zero up to `until`:
    /// how a saved run — a link, a page restored after a crash — comes back exactly.
    ///
    /// # Errors
    ///
    /// As [`World::with_seed`].
    pub fn replay(
        &mut self,
        mut commands: Vec<RecordedCommand>,
        until: Micros,
    ) -> Result<(), ScenarioError> {
        commands.sort_by_key(|c| c.at);
        self.replace_world(self.fresh_world()?);
        self.checkpoints.clear();
        self.commands = commands;
        self.applied = 0;
        self.horizon = 0;
        self.run_until(until, || true);
        Ok(())
    }

    /// Takes back the last script step given: the run is replayed without it (and without
    /// anything given after it). Returns whether there was a step to take back.
    ///
    /// # Errors
    ///
    /// As [`World::with_seed`].
    pub fn undo_script_step(&mut self) -> Result<bool, ScenarioError> {
        let Some(last) = self
            .commands
            .iter()
            .rposition(|c| c.command == Command::ScriptStep)
        else {
            return Ok(false);
        };
        let now = self.world.now();
        self.commands.truncate(last);
        self.checkpoints.fork_at(now, last);
        self.restore(now)?;
        self.horizon = 0;
        self.run_until(now, || true);
        Ok(true)
    }

    /// Back to time zero with no recorded commands (a fresh run of the same seed).
    ///
    /// # Errors
    ///
    /// As [`World::with_seed`].
    pub fn reset(&mut self) -> Result<(), ScenarioError> {
        self.replace_world(self.fresh_world()?);
        self.checkpoints.clear();
        self.commands.clear();
        self.applied = 0;
        self.horizon = 0;
        Ok(())
    }

    /// A fresh run with another seed.
    ///
    /// # Errors
    ///
    /// As [`World::with_seed`].
    pub fn set_seed(&mut self, seed: u64) -> Result<(), ScenarioError> {
        self.pristine = World::build_databases(&self.scenario, seed)?;
        self.seed = seed;
        self.reset()
    }
}

fn copies(databases: &[Database]) -> Vec<Database> {
    databases.iter().map(Database::copy).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::SECOND;

    fn scenario() -> Scenario {
        Scenario::parse(
            r#"
format_version = 1
name = "tiny"
[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
         "INSERT INTO t VALUES (1, 0), (2, 0), (3, 0)"]
[[services]]
name = "writer"
database = "db"
[[services.operations]]
name = "bump"
rate_per_s = 200
statements = ["UPDATE t SET v = v + 1 WHERE id = {id}"]
params.id = { existing_key = "t.id" }
"#,
        )
        .expect("valid")
    }

    fn fingerprint(playback: &Playback) -> (Micros, u64, String) {
        let report = playback.world().report();
        (playback.now(), report.events, report.trace_hash)
    }

    #[test]
    fn slices_and_budgets_do_not_change_the_run() {
        let mut whole = Playback::new(scenario(), 3).expect("builds");
        whole.run_until(2 * SECOND, || true);
        let mut sliced = Playback::new(scenario(), 3).expect("builds");
        let mut calls = 0;
        while !sliced.run_until(2 * SECOND, || {
            calls += 1;
            calls % 7 != 0
        }) {}
        assert_eq!(fingerprint(&whole), fingerprint(&sliced));
    }

    #[test]
    fn going_back_replays_the_users_commands_and_a_new_command_forks() {
        let mut playback = Playback::new(scenario(), 3).expect("builds");
        playback.run_until(SECOND, || true);
        let pause = Command::PauseService {
            service: "writer".into(),
        };
        playback.apply(pause).expect("applies");
        playback.run_until(3 * SECOND, || true);
        let at_three = fingerprint(&playback);
        playback.seek(SECOND / 2).expect("seeks");
        assert_eq!(playback.now(), SECOND / 2);
        assert_eq!(playback.horizon(), 3 * SECOND);
        playback.seek(3 * SECOND).expect("seeks");
        assert_eq!(
            fingerprint(&playback),
            at_three,
            "the same timeline comes back"
        );

        // A different command after going back drops the pause recorded later.
        playback.seek(SECOND / 2).expect("seeks");
        let slower = Command::SetRate {
            service: "writer".into(),
            operation: "bump".into(),
            rate_per_s: 10.0,
        };
        playback.apply(slower).expect("applies");
        assert_eq!(playback.commands().len(), 1);
        playback.run_until(3 * SECOND, || true);
        assert_ne!(fingerprint(&playback), at_three);
    }

    #[test]
    fn copies_of_the_databases_run_as_the_originals() {
        let mut playback = Playback::new(scenario(), 5).expect("builds");
        playback.run_until(2 * SECOND, || true);
        let mut world = World::with_seed(&scenario(), 5).expect("builds");
        world.step_until(2 * SECOND);
        assert_eq!(
            playback.world().report().trace_hash,
            world.report().trace_hash
        );
        // And after going back, from the copies again.
        playback.seek(SECOND).expect("seeks");
        playback.seek(2 * SECOND).expect("seeks");
        assert_eq!(
            playback.world().report().trace_hash,
            world.report().trace_hash
        );
    }

    #[test]
    fn a_script_is_stepped_by_hand_and_the_deadlock_is_kept() {
        let text = crate::sim::builtin::scenario_text("deadlock").expect("built in");
        let scenario = Scenario::parse(text).expect("valid");
        let mut playback = Playback::new(scenario, 1).expect("builds");
        playback.run_until(SECOND, || true);
        let steps = |p: &Playback| p.world().script_report().expect("a script").steps;
        assert!(
            steps(&playback).iter().all(|s| s.outcome == "pending"),
            "nothing runs by itself"
        );
        for _ in 0..5 {
            playback.apply(Command::ScriptStep).expect("steps");
        }
        let report = steps(&playback);
        assert_eq!(
            report[2].locks.len(),
            2,
            "A holds ROW EXCLUSIVE and its row: {:?}",
            report[2].locks
        );
        assert!(report[4].blocked);
        assert_eq!(
            report[4].waiting_for.as_deref(),
            Some("FOR NO KEY UPDATE on accounts row 2, held by B")
        );
        playback.apply(Command::ScriptStep).expect("steps");
        let locks = playback.world().locks("bank");
        let (_, cycle) = locks.last_deadlock.expect("a deadlock");
        assert_eq!(cycle, ["B", "A"]);
        while playback
            .world()
            .script_report()
            .is_some_and(|r| r.steps.iter().any(|s| s.outcome == "pending"))
        {
            playback.apply(Command::ScriptStep).expect("steps");
        }
        assert_eq!(steps(&playback)[8].rows.as_ref().map(Vec::len), Some(2));
        // Replaying the recorded steps gives the same report.
        let before = playback.world().script_report();
        playback.seek(0).expect("seeks");
        playback.seek(SECOND).expect("seeks");
        assert_eq!(playback.world().script_report(), before);
    }

    #[test]
    fn going_back_runs_on_from_a_checkpoint_to_the_same_run() {
        let mut playback = Playback::new(scenario(), 3).expect("builds");
        playback.run_until(3 * SECOND, || true);
        playback.apply(slower_again()).expect("applies");
        playback.run_until(9 * SECOND, || true);
        let at_nine = fingerprint(&playback);
        assert!(
            playback.checkpoints().len() >= 8,
            "{:?}",
            playback.checkpoints()
        );
        let from = playback.seek(8 * SECOND + 900_000).expect("seeks");
        assert!(
            (8 * SECOND..8 * SECOND + 100_000).contains(&from),
            "from the checkpoint of the 8th second (its first instant), not from 0 s: {from}"
        );
        // The same state as a run that never went back…
        let mut straight = Playback::new(scenario(), 3).expect("builds");
        straight.run_until(3 * SECOND, || true);
        straight.apply(slower_again()).expect("applies");
        straight.run_until(8 * SECOND + 900_000, || true);
        assert_eq!(fingerprint(&playback), fingerprint(&straight));
        // …and the same timeline onwards, the command before the checkpoint kept.
        playback.seek(9 * SECOND).expect("seeks");
        assert_eq!(fingerprint(&playback), at_nine);
        // Back before the command: the checkpoint of second 2 had not been given it.
        let from = playback.seek(2 * SECOND + 500_000).expect("seeks");
        assert!((2 * SECOND..2 * SECOND + 100_000).contains(&from), "{from}");
        playback.seek(9 * SECOND).expect("seeks");
        assert_eq!(fingerprint(&playback), at_nine);
    }

    fn slower_again() -> Command {
        Command::SetRate {
            service: "writer".into(),
            operation: "bump".into(),
            rate_per_s: 50.0,
        }
    }

    #[test]
    fn a_new_command_after_going_back_drops_the_checkpoints_it_changes() {
        let mut playback = Playback::new(scenario(), 3).expect("builds");
        playback.run_until(6 * SECOND, || true);
        let without = fingerprint(&playback);
        playback.seek(3 * SECOND + 500_000).expect("seeks");
        playback.apply(slower_again()).expect("applies");
        assert!(
            playback
                .checkpoints()
                .times()
                .all(|t| t <= 3 * SECOND + 500_000),
            "{:?}",
            playback.checkpoints()
        );
        playback.run_until(6 * SECOND, || true);
        assert_ne!(
            fingerprint(&playback),
            without,
            "the command changed the run"
        );
        // Going back to 5.5 s now replays the new timeline, from its own checkpoint.
        let at_six = fingerprint(&playback);
        let from = playback.seek(5 * SECOND + 500_000).expect("seeks");
        assert!((5 * SECOND..5 * SECOND + 100_000).contains(&from), "{from}");
        playback.seek(6 * SECOND).expect("seeks");
        assert_eq!(fingerprint(&playback), at_six);
    }

    #[test]
    fn a_long_run_keeps_few_checkpoints() {
        let mut quiet = scenario();
        quiet.services[0].operations[0].rate_per_s = 2.0;
        let mut playback = Playback::new(quiet, 1).expect("builds");
        playback.run_until(600 * SECOND, || true);
        let kept = playback.checkpoints().len();
        assert!((8..=45).contains(&kept), "{:?}", playback.checkpoints());
        let last = playback.checkpoints().times().last().unwrap_or(0);
        assert!(last >= 599 * SECOND, "one near the present: {last}");
    }

    #[test]
    fn after_going_far_back_the_end_of_the_timeline_is_still_near_a_checkpoint() {
        let mut quiet = scenario();
        quiet.services[0].operations[0].rate_per_s = 2.0;
        let mut playback = Playback::new(quiet, 1).expect("builds");
        playback.run_until(600 * SECOND, || true);
        let end = fingerprint(&playback);
        let from = playback.seek(300 * SECOND).expect("seeks");
        assert!((200 * SECOND..300 * SECOND).contains(&from), "{from}");
        let from = playback.seek(299 * SECOND + 900_000).expect("seeks");
        assert!(from >= 299 * SECOND, "the present is dense again: {from}");
        let from = playback.seek(599 * SECOND + 500_000).expect("seeks");
        assert!(from >= 599 * SECOND, "and so is the end: {from}");
        playback.seek(600 * SECOND).expect("seeks");
        assert_eq!(fingerprint(&playback), end);
    }

    #[test]
    fn a_script_step_taken_back_late_in_a_run_restores_a_checkpoint() {
        let text = crate::sim::builtin::scenario_text("lost-update").expect("built in");
        let scenario = Scenario::parse(text).expect("parses");
        let mut playback = Playback::new(scenario.clone(), 1).expect("builds");
        playback.run_until(5 * SECOND, || true);
        playback.apply(Command::ScriptStep).expect("steps");
        playback.run_until(7 * SECOND, || true);
        playback.apply(Command::ScriptStep).expect("steps");
        let two = playback.world().script_report();
        playback.run_until(9 * SECOND, || true);
        playback.apply(Command::ScriptStep).expect("steps");
        assert!(playback.undo_script_step().expect("replays"));
        assert!(
            playback.checkpoints().times().all(|t| t <= 9 * SECOND),
            "{:?}",
            playback.checkpoints()
        );
        assert_eq!(playback.world().script_report(), two);
        // The same as a run that never took the third step.
        let mut straight = Playback::new(scenario, 1).expect("builds");
        straight.run_until(5 * SECOND, || true);
        straight.apply(Command::ScriptStep).expect("steps");
        straight.run_until(7 * SECOND, || true);
        straight.apply(Command::ScriptStep).expect("steps");
        straight.run_until(9 * SECOND, || true);
        assert_eq!(fingerprint(&playback), fingerprint(&straight));
    }

    #[test]
    fn a_step_is_one_instant() {
        let mut playback = Playback::new(scenario(), 3).expect("builds");
        let first = playback.world().next_event_time().expect("an arrival");
        assert!(playback.step_instant());
        assert_eq!(playback.now(), first);
        assert!(playback
            .world()
            .next_event_time()
            .is_none_or(|next| next > first));
    }

    #[test]
    fn a_recorded_run_replays_to_the_same_totals_and_round_trips_as_json() {
        let mut playback = Playback::new(scenario(), 5).expect("builds");
        playback.seek(SECOND).expect("seeks");
        playback
            .apply(Command::SetRate {
                service: "writer".into(),
                operation: "bump".into(),
                rate_per_s: 20.0,
            })
            .expect("applies");
        playback.seek(2 * SECOND).expect("seeks");
        let json = serde_json::to_string(playback.commands()).expect("serialises");
        let commands: Vec<RecordedCommand> = serde_json::from_str(&json).expect("parses");
        let mut again = Playback::new(scenario(), 5).expect("builds");
        again.replay(commands, 2 * SECOND).expect("replays");
        assert_eq!(fingerprint(&again), fingerprint(&playback));
        let mut without = Playback::new(scenario(), 5).expect("builds");
        without.seek(2 * SECOND).expect("seeks");
        assert_ne!(
            fingerprint(&without).2,
            fingerprint(&playback).2,
            "the command changed the run, so replaying it is what made the totals equal"
        );
    }

    #[test]
    fn a_script_step_can_be_taken_back() {
        let text = crate::sim::builtin::scenario_text("lost-update").expect("built in");
        let mut playback =
            Playback::new(Scenario::parse(text).expect("parses"), 1).expect("builds");
        for _ in 0..3 {
            playback.apply(Command::ScriptStep).expect("steps");
        }
        let after_two = {
            let mut two = Playback::new(playback.scenario().clone(), 1).expect("builds");
            two.apply(Command::ScriptStep).expect("steps");
            two.apply(Command::ScriptStep).expect("steps");
            two.world().script_report()
        };
        assert!(playback.undo_script_step().expect("replays"));
        assert_eq!(playback.world().script_report(), after_two);
        assert_eq!(
            playback.world().script_progress().map(|p| p.0),
            Some(Some(2))
        );
        assert!(playback.undo_script_step().expect("replays"));
        assert!(playback.undo_script_step().expect("replays"));
        assert!(!playback.undo_script_step().expect("nothing to undo"));
    }
}
