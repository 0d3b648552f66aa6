//! The live simulator: the transport bar, then topology, locks, latency, actions and the event
//! log around one [`LiveState`]. Owns the animation loop and the keyboard shortcuts.

use crate::embed::Panel;
use crate::markdown;
use crate::ui::browser::{self, AnimationLoop, KeyListener};
use crate::ui::charts::Charts;
use crate::ui::checker::CheckerPanel;
use crate::ui::compare::ComparePanel;
use crate::ui::controls::{Controls, Preset};
use crate::ui::etl::EtlPanel;
use crate::ui::help::HelpDialog;
use crate::ui::live::{LiveAction, LiveState};
use crate::ui::locks_panel::LocksPanel;
use crate::ui::messages::MessageViewer;
use crate::ui::narration::Narration;
use crate::ui::pipeline::PipelinePanel;
use crate::ui::registry::RegistryPanel;
use crate::ui::script_view::ScriptPanel;
use crate::ui::sim_console::SimConsole;
use crate::ui::sweep::SweepPanel;
use crate::ui::topology::Topology;
use crate::ui::transport::Transport;
use crate::ui::ViewRef;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The scenario's ready-made SQL actions ([`crate::sim::presets`]), not yet known to be spent.
fn presets(state: &LiveState) -> Vec<Preset> {
    crate::sim::presets::presets(state.scenario())
        .into_iter()
        .map(|p| Preset {
            label: p.label,
            database: p.database,
            sql: p.sql,
            done: false,
        })
        .collect()
}

/// The live simulator.
#[component]
pub fn Simulator() -> Html {
    let state = use_reducer(LiveState::from_link);
    let on_action = {
        let state = state.clone();
        Callback::from(move |action: LiveAction| state.dispatch(action))
    };

    // The animation loop: one frame action per browser frame while mounted.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let frames = AnimationLoop::start(move |at| dispatcher.dispatch(LiveAction::Frame(at)));
            move || drop(frames)
        });
    }
    // The run's news, when it runs in a worker.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            crate::ui::run_worker::listen(move |news| {
                dispatcher.dispatch(LiveAction::RunNews(crate::ui::run_worker::News(Rc::new(
                    news,
                ))))
            });
        });
    }
    // Keyboard shortcuts, anywhere on the page but in text fields and selects.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let keys = KeyListener::new(move |event: web_sys::KeyboardEvent| {
                if event.ctrl_key() || event.meta_key() || event.alt_key() {
                    return;
                }
                if event.key() == "Escape" {
                    dispatcher.dispatch(LiveAction::CloseHelp);
                    return;
                }
                if browser::typing_in_control(&event) {
                    return;
                }
                let on_button = event
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|e| e.tag_name().eq_ignore_ascii_case("BUTTON"));
                let action = match event.key().as_str() {
                    " " | "Spacebar" if !on_button => Some(LiveAction::TogglePlay),
                    "ArrowRight" => Some(LiveAction::StepEvent),
                    "ArrowLeft" => Some(LiveAction::StepBack),
                    "r" | "R" => Some(LiveAction::Reset),
                    "?" => Some(LiveAction::ToggleHelp),
                    "n" | "N" => Some(LiveAction::Command(crate::sim::world::Command::ScriptStep)),
                    _ => None,
                };
                if let Some(action) = action {
                    event.prevent_default();
                    dispatcher.dispatch(action);
                }
            });
            move || drop(keys)
        });
    }

    // The job running beside the run (a comparison, a sweep), in the page's worker: started
    // when the state holds a new one, stopped if the state lets it go before it has finished.
    {
        let job = state.job.clone();
        let dispatcher = state.dispatcher();
        use_effect_with(job.as_ref().map(|j| j.id()), move |_| {
            // Whether it found something (else it was cancelled, or failed).
            let found = Rc::new(std::cell::Cell::new(false));
            let title = job.as_ref().map(|job| match job.request.kind {
                crate::sim::job::JobKind::Compare { .. } => "#compare-title",
                crate::sim::job::JobKind::Sweep { .. } => "#sweep-title",
            });
            let running = job.map(|job| {
                // The button that started it is disabled now: the focus goes to Cancel.
                browser::after_paint(|| browser::focus_if_lost(".busy-note button"));
                let found = Rc::clone(&found);
                crate::ui::worker::start((*job.request).clone(), move |report| {
                    if matches!(report.news, crate::sim::job::News::Done(Ok(_))) {
                        found.set(true);
                    }
                    dispatcher.dispatch(LiveAction::JobNews(report))
                })
            });
            move || {
                drop(running);
                // Done: the focus goes to what it found, brought into view (it may be far
                // below on a phone); cancelled or failed: back to the buttons.
                if let Some(title) = title {
                    browser::after_paint(move || {
                        if found.get() {
                            browser::reveal_if_lost(title);
                        } else {
                            browser::focus_if_lost(".compare-button");
                        }
                    });
                }
            }
        });
    }
    // In an embed: the host page's commands in, the run's state out.
    crate::ui::embed::use_host(&state);
    // The embed's "Open in Dataflow Lab" link, made from the state as it is when followed: one
    // callback for the page's life (so the bar does not re-render every frame).
    let latest = use_mut_ref(|| None::<UseReducerHandle<LiveState>>);
    *latest.borrow_mut() = Some(state.clone());
    let open_link = use_memo((), {
        let latest = Rc::clone(&latest);
        move |_| {
            Callback::from(move |()| {
                latest
                    .borrow()
                    .as_ref()
                    .map(|state| state.open_link())
                    .unwrap_or_default()
            })
        }
    });

    let presets = use_memo(state.source.clone(), |_| Rc::new(presets(&state)));
    // A schema change already made is shown done; the map is rebuilt (a new Rc) only when a
    // schema changes, so its address is the memo's key.
    let presets = use_memo(
        (Rc::clone(&presets), Rc::as_ptr(&state.coupling) as usize),
        |(presets, _)| {
            Rc::new(
                presets
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Preset {
                        done: state.coupling.spent.get(i).copied().unwrap_or(false),
                        ..p.clone()
                    })
                    .collect::<Vec<_>>(),
            )
        },
    );
    let picker = use_memo((), |_| crate::sim::builtin::catalogue());
    let view = ViewRef(Rc::clone(&state.view));
    let on_scenario = {
        let on_action = on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(value) = crate::ui::browser::select_value(&event) {
                on_action.emit(LiveAction::LoadScenario(value));
            }
        })
    };
    let console_examples: Rc<Vec<(String, String)>> = Rc::new(
        state
            .scenario()
            .databases
            .iter()
            .filter_map(|d| Some((d.name.clone(), d.console_example.clone()?)))
            .collect(),
    );
    let close_help = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ToggleHelp))
    };
    let (description, watch) = {
        let scenario = state.scenario();
        let render = |text: &Option<String>| {
            text.as_deref()
                .map(|t| Html::from_html_unchecked(AttrValue::from(markdown::to_safe_html(t))))
        };
        let watch = match scenario.mode {
            crate::sim::modes::Mode::Cdc if scenario.cdc.watch.is_some() => &scenario.cdc.watch,
            crate::sim::modes::Mode::Etl if scenario.etl.watch.is_some() => &scenario.etl.watch,
            crate::sim::modes::Mode::Events if scenario.events_watch.is_some() => {
                &scenario.events_watch
            }
            _ => &scenario.watch,
        };
        (render(&scenario.description), render(watch))
    };
    let lesson = state.scenario().lesson.clone().map(Rc::new);
    let spoilers_hidden = state.spoilers_hidden();
    let has_sweep = state.scenario().sweep.is_some();
    let mode_buttons = (state.view.modes.len() > 1).then(|| {
        html! {
            <div class="mode-switch" role="group" aria-label="Integration mode">
                <span class="mode-label">{ "Integration" }</span>
                { for state.view.modes.iter().map(|mode| {
                    let mode = *mode;
                    let pressed = state.view.mode == mode;
                    let on_action = on_action.clone();
                    let onclick = Callback::from(move |_: MouseEvent| {
                        if !pressed {
                            on_action.emit(LiveAction::SetMode(mode));
                        }
                    });
                    html! {
                        <button type="button" class={classes!("button", "small", (!pressed).then_some("subtle"))}
                            aria-pressed={pressed.to_string()} title={mode.explanation()} {onclick}>
                            { mode.name() }
                        </button>
                    }
                }) }
                <button type="button" class="button small subtle compare-button" disabled={state.job.is_some()}
                    onclick={on_action.reform(|_: MouseEvent| LiveAction::Compare)}
                    title="Run this scenario with this seed in every mode to the current time (at least 10 s), side by side">
                    { "Compare modes" }
                </button>
            </div>
        }
    });
    let topics: Vec<String> = state
        .view
        .pipeline
        .as_ref()
        .map(|p| p.topics.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default();
    let toggle_editor = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ToggleEditor))
    };
    let edited = state.source.is_edited();
    let toggle_share = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ToggleShare))
    };
    let toggle_present = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::TogglePresent))
    };
    let log_hint = if state.playing || state.now > 0 {
        "Nothing to report yet: lock waits, deadlocks, failures and your actions appear here as they happen."
    } else if state.view.script.is_some() {
        "Nothing yet: issue the script's first step with “Next step” (or the N key)."
    } else if presets.is_empty() {
        "Nothing yet: press play (Space) and watch the services."
    } else {
        "Nothing yet: press play (Space), then try one of the actions below."
    };

    let shows = |panel: Panel| state.shows(panel);
    let embedded = state.embed.is_some();
    let lesson_panel = lesson.filter(|_| shows(Panel::Lesson)).map(|lesson| {
        html! {
            <crate::ui::lesson::LessonPanel {lesson} prediction={state.prediction}
                answer={state.answer()} scripted={state.view.script.is_some()}
                started={state.run_started()}
                on_action={on_action.clone()} />
        }
    });
    let checkpoints_panel = shows(Panel::Checkpoints).then(|| {
        html! {
            <crate::ui::checkpoints::Checkpoints verdicts={Rc::clone(&state.checkpoints)}
                hidden={spoilers_hidden} />
        }
    });
    let chosen_note = state.panels.filter(|_| !embedded).map(|panels| {
        let on_action = on_action.clone();
        let names: Vec<&str> = panels.panels().into_iter().map(Panel::name).collect();
        html! {
            <div class="info-note panels-note" role="status">
                <p>
                    { format!("The link shows only some panels: {}. ", names.join(", ")) }
                    <button type="button" class="button small subtle"
                        onclick={Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ShowAllPanels))}>
                        { "Show every panel" }
                    </button>
                </p>
            </div>
        }
    });
    let notice = state.notice.as_ref().map(|notice| {
        html! {
            <div class="notice" role="status">
                <p>{ notice }</p>
                <button type="button" class="button small subtle notice-close" title="Put this message away"
                    aria-label="Dismiss the message" onclick={on_action.reform(|_: MouseEvent| LiveAction::DismissNotice)}>{ "×" }</button>
            </div>
        }
    });
    let embed_bar = embedded.then(|| {
        let mode = (state.view.modes.len() > 1).then(|| AttrValue::from(state.view.mode.name()));
        let href = AttrValue::from(format!(
            "?scenario={}&seed={}",
            state.scenario_name,
            state.seed()
        ));
        html! {
            <crate::ui::embed::EmbedBar title={AttrValue::from(state.title())} seed={state.seed()}
                {mode} {href} open_link={(*open_link).clone()} />
        }
    });

    html! {
        <div class={classes!("simulator", state.present.then_some("present"), embedded.then_some("embed"))}>
            if embedded {
                { for embed_bar }
                // What is wrong with the embed's address, before anything it would explain.
                { for notice.clone() }
                if lesson_panel.is_some() || checkpoints_panel.is_some() {
                    <section class="scenario-bar embed-lesson" aria-label="Lesson">
                        { for lesson_panel.clone() }
                        { for checkpoints_panel.clone() }
                    </section>
                }
            } else {
                <section class="scenario-bar" aria-label="Scenario">
                    <label class="field">
                        <span>{ "Scenario" }</span>
                        <select onchange={on_scenario} aria-label="Scenario">
                            if edited {
                                <optgroup label="Yours">
                                    <option value="" selected=true disabled=true>
                                        { format!("{} — {} (edited)", state.scenario_name, state.title()) }
                                    </option>
                                </optgroup>
                            }
                            { for picker.iter().map(|(part, lessons)| html! {
                                <optgroup label={part.clone()}>
                                    { for lessons.iter().map(|(name, title)| html! {
                                        <option value={*name} selected={!edited && state.scenario_name == *name}>
                                            { format!("{name} — {title}") }
                                        </option>
                                    }) }
                                </optgroup>
                            }) }
                        </select>
                    </label>
                    <h2 class="scenario-title">
                        { state.title() }
                        if edited {
                            <span class="edited-badge" title="This scenario is your own edit: the page's link carries its text">{ "edited" }</span>
                        }
                    </h2>
                    { for mode_buttons }
                    if has_sweep && !spoilers_hidden {
                        <button type="button" class="button small subtle sweep-button" disabled={state.job.is_some()}
                            onclick={on_action.reform(|_: MouseEvent| LiveAction::Sweep)}
                            title="Run this scenario again at each point of its sweep (more services, or more load), with this seed, and chart what grows">
                            { "Sweep scale" }
                        </button>
                    }
                    <button type="button" class="button subtle present-button" onclick={toggle_present}
                        aria-pressed={state.present.to_string()}
                        title="Presentation layout for a projector: larger text, the topology and the locks side by side">
                        { if state.present { "Exit presentation" } else { "Present" } }
                    </button>
                    <button type="button" class="button subtle edit-button" onclick={toggle_editor.clone()}
                        aria-expanded={(state.editor.is_some() || state.editor_warning).to_string()}
                        title="Edit this scenario's file in the page, check it, run it, import or export it">
                        { "Edit" }
                    </button>
                    <button type="button" class="button subtle share-button" onclick={toggle_share}
                        aria-expanded={state.share.to_string()}
                        title="A link to this run — scenario, seed, time and your actions — to send to someone">
                        { "Share" }
                    </button>
                    if state.share {
                        <crate::ui::share::SharePanel link={AttrValue::from(state.share_link())}
                            fingerprint={(state.events > 0).then(|| AttrValue::from(state.view.fingerprint.clone()))}
                            clock={AttrValue::from(state.view.clock.clone())}
                            actions={state.recorded_commands()} run_file={AttrValue::from(state.run_file())}
                            name={AttrValue::from(state.scenario_name.clone())}
                            exports={state.exports.clone().unwrap_or_default()}
                            charts={Rc::new(state.view.services.iter().map(|s| s.name.clone()).collect::<Vec<_>>())}
                        embed={AttrValue::from(state.embed_snippet())}
                            on_action={on_action.clone()} />
                    }
                    if state.editor_warning {
                        <section class="scenario-editor" role="region" aria-label="Scenario editor">
                            <p>{ "The scenario's file holds this lesson's answer ([lesson] answer and explain). Answer the question first — or open it anyway, if you are preparing the lesson." }</p>
                            <div class="scenario-editor-buttons">
                                <button type="button" class="button small" onclick={{
                                    let on_action = on_action.clone();
                                    Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::OpenEditorAnyway))
                                }}>{ "Open the file anyway" }</button>
                                <button type="button" class="button small subtle" onclick={toggle_editor.clone()}>{ "Not now" }</button>
                            </div>
                        </section>
                    }
                    if let Some(draft) = &state.editor {
                        <crate::ui::scenario_editor::ScenarioEditor draft={Rc::clone(draft)}
                            running={AttrValue::from(state.scenario_text())}
                            name={AttrValue::from(state.scenario_name.clone())}
                            builtin_differs={crate::authoring::ScenarioSource::Builtin(state.scenario_name.clone())
                                .text().is_some_and(|t| t != draft.text)}
                            note={state.editor_note.clone().map(AttrValue::from)}
                            applying={state.applying()}
                            on_action={on_action.clone()} />
                    }
                    if let Some(watch) = watch.filter(|_| !spoilers_hidden) {
                        <div class="scenario-watch"><b>{ "Watch: " }</b>{ watch }</div>
                    }
                    { for lesson_panel }
                    { for checkpoints_panel }
                    if let Some(description) = description {
                        <details class="scenario-description">
                            <summary>{ "What this shows" }</summary>
                            <div class="markdown">{ description }</div>
                        </details>
                    }
                </section>
            }
            // The clock and its controls stay at the top as the page scrolls, and so does a
            // message about the page until it is put away.
            <div class="transport-dock">
                <Transport compact={embedded} playing={state.playing} now={state.now} horizon={state.horizon}
                    speed={state.speed} seed={state.seed()} last_seek_ms={state.last_seek_ms} events={state.events} shown_at={state.view.now}
                    frame_ms={(state.frames.last_step_ms, state.frames.last_view_ms)}
                    lagging={state.lagging()} scripted={state.view.script.is_some()}
                    replaying={state.replaying().map(|(said, done)| (AttrValue::from(said), done))}
                    on_action={on_action.clone()} />
                if !embedded {
                    { for notice.clone() }
                }
            </div>
            { for chosen_note }
            if let Some(job) = &state.job {
                <div class="info-note busy-note" role="status">
                    <p>{ job.note() }</p>
                    <button type="button" class="button small subtle" onclick={on_action.reform(|_: MouseEvent| LiveAction::CancelJob)}>{ "Cancel" }</button>
                </div>
            }
            if let Some(info) = &state.info {
                <div class="info-note" role="status"><p>{ info }</p></div>
            }
            if let Some(sweep) = &state.sweep {
                <section class="panel compare-panel" aria-labelledby="sweep-title">
                    <h2 id="sweep-title" tabindex="-1">{ "As the system scales" }</h2>
                    <SweepPanel sweep={Rc::clone(sweep)} on_action={on_action.clone()} />
                </section>
            }
            if let Some(compare) = &state.compare {
                <section class="panel compare-panel" aria-labelledby="compare-title">
                    <h2 id="compare-title" tabindex="-1">{ "Compare the modes" }</h2>
                    <ComparePanel compare={Rc::clone(compare)} on_action={on_action.clone()} busy={state.job.is_some()} />
                </section>
            }
            if state.view.pipeline.is_some() && shows(Panel::Pipeline) {
                <section class="panel pipeline-panel" aria-labelledby="pipeline-title">
                    <h2 id="pipeline-title">{
                        if state.view.mode == crate::sim::modes::Mode::Events {
                            "Outbox relay and domain events"
                        } else {
                            "Change data capture"
                        }
                    }</h2>
                    if let Some(result) = &state.pipeline_result {
                        <p class="last-result" role="status">{ result }</p>
                    }
                    <PipelinePanel view={view.clone()} viewing={state.viewer.topic.clone()}
                        on_action={on_action.clone()} />
                </section>
            }
            if state.view.pipeline.is_some() && shows(Panel::Checker) {
                <section class="panel checker-panel" aria-labelledby="checker-title">
                    <h2 id="checker-title">{ "Invariant checker: read models against their sources" }</h2>
                    <CheckerPanel report={state.checker.clone()} on_action={on_action.clone()} />
                </section>
            }
            if let Some(registry) = state.view.pipeline.as_ref().map(|p| &p.registry).filter(|r| !r.subjects.is_empty() && shows(Panel::Registry)) {
                <section class="panel registry-panel" aria-labelledby="registry-title">
                    <h2 id="registry-title">{ "Schema registry" }</h2>
                    <RegistryPanel registry={registry.clone()} result={state.registry_result.clone()}
                        on_action={on_action.clone()} />
                </section>
            }
            if state.view.etl.is_some() && shows(Panel::Etl) {
                <section class="panel pipeline-panel" aria-labelledby="etl-title">
                    <h2 id="etl-title">{ "ETL job" }</h2>
                    if let Some(result) = &state.pipeline_result {
                        <p class="last-result" role="status">{ result }</p>
                    }
                    <EtlPanel view={view.clone()} on_action={on_action.clone()} />
                </section>
            }
            if state.viewer.topic.is_some() && state.view.pipeline.is_some() && shows(Panel::Messages) {
                <section class="panel messages-panel" aria-labelledby="messages-title">
                    <h2 id="messages-title">{ "Messages" }</h2>
                    <MessageViewer viewer={state.viewer.clone()} messages={Rc::clone(&state.messages)}
                        topics={topics.clone()} on_action={on_action.clone()} />
                </section>
            }
            // While the run is built in the page's worker: a note where the panels go.
            if state.starting {
                <div class="starting-note" role="status">
                    <p>{ "Building the run: its databases, their rows and its services…" }</p>
                </div>
            } else {
                <div class="sim-grid">
                    <div class="sim-column main">
                        if state.view.script.is_some() && shows(Panel::Script) {
                            <section class="panel script-panel" aria-labelledby="script-title">
                                <h2 id="script-title">{ "Scripted sessions, side by side" }</h2>
                                <ScriptPanel view={view.clone()} on_action={on_action.clone()} />
                            </section>
                        }
                        if !state.view.services.is_empty() {
                            if shows(Panel::Topology) {
                                <section class="panel topology-panel" aria-labelledby="topology-title">
                                    // In an embed the bar above says what it is: the heading is for screen readers.
                                    <h2 id="topology-title" class={classes!(embedded.then_some("visually-hidden"))}>{ "Topology" }</h2>
                                    <Topology view={view.clone()} compact={embedded} />
                                </section>
                            }
                            if shows(Panel::Latency) {
                                <section class="panel charts-panel" aria-labelledby="latency-title">
                                    <h2 id="latency-title">{ "Latency and throughput" }</h2>
                                    <Charts view={view.clone()} />
                                </section>
                            }
                            if shows(Panel::Coupling) {
                                <section class="panel coupling-panel" aria-labelledby="coupling-title">
                                    <h2 id="coupling-title">{ "Coupling map: who reads and writes what" }</h2>
                                    <crate::ui::coupling::CouplingPanel map={Rc::clone(&state.coupling)}
                                        preview={state.schema_preview.clone()} />
                                </section>
                            }
                        }
                    </div>
                    <div class="sim-column side">
                        if shows(Panel::Locks) {
                            <section class="panel locks-panel" aria-labelledby="locks-title">
                                <h2 id="locks-title">{ "Locks" }</h2>
                                <LocksPanel view={view.clone()} on_action={on_action.clone()} />
                            </section>
                        }
                        if shows(Panel::Console) {
                            <section class="panel console-panel" aria-labelledby="console-title">
                                <h2 id="console-title">{ "Console — inside the simulation" }</h2>
                                <SimConsole key={format!("{}-{}", state.scenario_name, state.view.mode.name())}
                                    view={view.clone()} examples={console_examples} playing={state.playing}
                                    on_action={on_action.clone()} />
                            </section>
                        }
                        if shows(Panel::Log) {
                            <section class="panel log-panel" aria-labelledby="log-title">
                                <h2 id="log-title">{ "What happened" }</h2>
                                <Narration view={view.clone()} empty_hint={log_hint} />
                            </section>
                        }
                        if shows(Panel::Actions) && (state.view.services.iter().any(|s| !s.internal) || !presets.is_empty()) {
                            <section class="panel actions-panel" aria-labelledby="actions-title">
                                <h2 id="actions-title">{ "Actions" }</h2>
                                <Controls view={view} presets={(*presets).clone()}
                                    last_result={state.last_result.clone()} preview={state.schema_preview.clone()}
                                    on_action={on_action.clone()} />
                            </section>
                        }
                    </div>
                </div>
            }
            if state.help {
                <HelpDialog on_close={close_help} />
            }
        </div>
    }
}
