//! The panels a link or an embed chooses (`panels=`) and an embed's theme (`theme=`).

use super::EmbedError;

/// One of the simulator's panels, as `panels=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The lesson's question and answer.
    Lesson,
    /// The scenario's checkpoints, judged as the run goes.
    Checkpoints,
    /// A scripted scenario's sessions side by side.
    Script,
    /// The services and the databases they use.
    Topology,
    /// Each service's latency and throughput.
    Latency,
    /// Who reads and writes which table and column.
    Coupling,
    /// Locks held and awaited.
    Locks,
    /// The SQL console inside the simulation.
    Console,
    /// What happened, in sentences.
    Log,
    /// One-click actions: pause a service, change a rate, run SQL.
    Actions,
    /// Change data capture or the outbox relay: connector, topics, consumers.
    Pipeline,
    /// The invariant checker.
    Checker,
    /// The schema registry.
    Registry,
    /// A topic's messages.
    Messages,
    /// The ETL job.
    Etl,
}

impl Panel {
    /// Every panel, in the order the page shows them.
    pub const ALL: [Panel; 15] = [
        Panel::Lesson,
        Panel::Checkpoints,
        Panel::Script,
        Panel::Topology,
        Panel::Latency,
        Panel::Coupling,
        Panel::Locks,
        Panel::Console,
        Panel::Log,
        Panel::Actions,
        Panel::Pipeline,
        Panel::Checker,
        Panel::Registry,
        Panel::Messages,
        Panel::Etl,
    ];

    /// Its name in `panels=`.
    pub fn name(self) -> &'static str {
        match self {
            Panel::Lesson => "lesson",
            Panel::Checkpoints => "checkpoints",
            Panel::Script => "script",
            Panel::Topology => "topology",
            Panel::Latency => "latency",
            Panel::Coupling => "coupling",
            Panel::Locks => "locks",
            Panel::Console => "console",
            Panel::Log => "log",
            Panel::Actions => "actions",
            Panel::Pipeline => "pipeline",
            Panel::Checker => "checker",
            Panel::Registry => "registry",
            Panel::Messages => "messages",
            Panel::Etl => "etl",
        }
    }

    /// The panel a name stands for (case and surrounding spaces do not matter).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether the panel has anything to show for a scenario of this shape (the locks, the
    /// console, the log, the actions, the lesson's parts always do).
    pub fn applies(self, scenario: &ScenarioShape) -> bool {
        match self {
            Panel::Topology | Panel::Latency | Panel::Coupling => scenario.services,
            Panel::Script => scenario.script,
            Panel::Pipeline | Panel::Checker | Panel::Registry | Panel::Messages => {
                scenario.pipeline
            }
            Panel::Etl => scenario.etl,
            Panel::Lesson
            | Panel::Checkpoints
            | Panel::Locks
            | Panel::Console
            | Panel::Log
            | Panel::Actions => true,
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

pub(super) fn panel_list() -> String {
    Panel::ALL.map(Panel::name).join(", ")
}

/// A set of panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Panels(u32);

impl Panels {
    /// These panels.
    pub fn of(panels: &[Panel]) -> Self {
        Self(panels.iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// The panels a `panels=` value names: `topology,locks` (spaces and case do not matter).
    ///
    /// # Errors
    ///
    /// [`EmbedError::UnknownPanel`] for a name that is not a panel's, [`EmbedError::NoPanels`]
    /// for an empty list.
    pub fn parse(text: &str) -> Result<Self, EmbedError> {
        let mut bits = 0;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let panel =
                Panel::from_name(name).ok_or_else(|| EmbedError::UnknownPanel(name.to_owned()))?;
            bits |= panel.bit();
        }
        if bits == 0 {
            return Err(EmbedError::NoPanels);
        }
        Ok(Self(bits))
    }

    /// Whether `panel` is one of them.
    pub fn contains(self, panel: Panel) -> bool {
        self.0 & panel.bit() != 0
    }

    /// These and `panel`.
    pub fn with(self, panel: Panel) -> Self {
        Self(self.0 | panel.bit())
    }

    /// The panels, in the page's order.
    pub fn panels(self) -> Vec<Panel> {
        Panel::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .collect()
    }

    /// The value for a link: `topology,locks`.
    pub fn for_link(self) -> String {
        self.panels()
            .into_iter()
            .map(Panel::name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// These panels for an embed of a scenario of this shape — or, when none of them but the
    /// lesson's shows anything of it (the topology of a script, which has no services), the
    /// scenario's default ones, with the lesson's parts that were chosen.
    pub fn for_scenario(self, scenario: &ScenarioShape) -> Self {
        let shows_something = self
            .panels()
            .into_iter()
            .any(|p| !matches!(p, Panel::Lesson | Panel::Checkpoints) && p.applies(scenario));
        if shows_something {
            return self;
        }
        [Panel::Lesson, Panel::Checkpoints]
            .into_iter()
            .filter(|p| self.contains(*p))
            .fold(Self::embed_default(scenario), Self::with)
    }

    /// What an embed shows when its address names no panels — one that fits 600 × 400: a
    /// script's sessions side by side, else the topology (each service's rate and p99, the
    /// databases, and the flows between them: change data capture and ETL copies included) —
    /// under the lesson's question and checkpoints when the embed is of a lesson.
    pub fn embed_default(scenario: &ScenarioShape) -> Self {
        let mut panels = if scenario.script {
            Self::of(&[Panel::Script])
        } else {
            Self::of(&[Panel::Topology])
        };
        if scenario.lesson {
            panels = panels.with(Panel::Lesson).with(Panel::Checkpoints);
        }
        panels
    }
}

/// What of a scenario decides an embed's panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScenarioShape {
    /// It is a script of sessions.
    pub script: bool,
    /// It has services (a workload to draw).
    pub services: bool,
    /// It runs a CDC or outbox pipeline in the mode shown.
    pub pipeline: bool,
    /// It runs an ETL job in the mode shown.
    pub etl: bool,
    /// The embed was asked for its lesson (`lesson=`).
    pub lesson: bool,
}

/// The colours an embed is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// The reader's system setting.
    Auto,
}

impl Theme {
    /// The theme `theme=` names.
    ///
    /// # Errors
    ///
    /// [`EmbedError::UnknownTheme`] for anything but light, dark or auto (or system).
    pub fn parse(text: &str) -> Result<Self, EmbedError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "light" => Ok(Self::Light),
            "dark" => Ok(Self::Dark),
            "auto" | "system" => Ok(Self::Auto),
            _ => Err(EmbedError::UnknownTheme(text.trim().to_owned())),
        }
    }

    /// Its name as the page's theme setting knows it.
    pub fn setting(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
            Self::Auto => "system",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_read_in_any_case_and_order_and_write_back_in_the_pages() {
        let panels = Panels::parse(" Locks, topology ,,").expect("two panels");
        assert!(panels.contains(Panel::Locks) && panels.contains(Panel::Topology));
        assert!(!panels.contains(Panel::Latency));
        assert_eq!(panels.for_link(), "topology,locks");
        assert_eq!(Panels::parse(&panels.for_link()), Ok(panels));
        let every = Panel::ALL.map(Panel::name).join(",");
        assert_eq!(Panels::parse(&every).map(|p| p.panels().len()), Ok(15));
    }

    #[test]
    fn an_unknown_panel_is_named_with_the_list_and_none_is_refused() {
        let error = Panels::parse("topology,lockz").expect_err("lockz is no panel");
        assert_eq!(error, EmbedError::UnknownPanel("lockz".to_owned()));
        assert!(error.to_string().contains("locks, console"), "{error}");
        assert_eq!(Panels::parse(" , "), Err(EmbedError::NoPanels));
    }

    #[test]
    fn the_default_panels_follow_the_scenario() {
        let plain = Panels::embed_default(&ScenarioShape::default());
        assert_eq!(plain.for_link(), "topology");
        let script = Panels::embed_default(&ScenarioShape {
            script: true,
            lesson: true,
            ..ScenarioShape::default()
        });
        assert_eq!(script.for_link(), "lesson,checkpoints,script");
        assert!(!script.contains(Panel::Topology));
    }

    #[test]
    fn themes_are_read_in_any_case() {
        assert_eq!(Theme::parse(" Dark"), Ok(Theme::Dark));
        assert_eq!(Theme::parse("system").map(Theme::setting), Ok("system"));
        assert_eq!(Theme::parse("auto").map(Theme::setting), Ok("system"));
        assert_eq!(
            Theme::parse("blue"),
            Err(EmbedError::UnknownTheme("blue".to_owned()))
        );
    }

    #[test]
    fn chosen_panels_that_show_nothing_of_the_scenario_give_way_to_its_own() {
        let script = ScenarioShape {
            script: true,
            ..ScenarioShape::default()
        };
        let shop = ScenarioShape {
            services: true,
            ..ScenarioShape::default()
        };
        let chosen = Panels::of(&[Panel::Topology, Panel::Checkpoints]);
        assert_eq!(
            chosen.for_scenario(&shop),
            chosen,
            "the shop has a topology"
        );
        assert_eq!(
            chosen.for_scenario(&script).for_link(),
            "checkpoints,script",
            "a script has none: its sessions instead, the checkpoints kept"
        );
        let locks = Panels::of(&[Panel::Locks]);
        assert_eq!(
            locks.for_scenario(&script),
            locks,
            "locks show in any scenario"
        );
        assert!(!Panel::Pipeline.applies(&shop) && Panel::Log.applies(&shop));
    }
}
