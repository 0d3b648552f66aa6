//! Small inline SVG icons (no icon font, no emoji: they render the same everywhere, including
//! the headless Chromium of the tests, which has no emoji font).

use crate::sim::view::Health;
use yew::prelude::*;

/// The paths of a state's symbol, centred on (0, 0) within a radius of about 5: a check, a
/// clock, a cross, a dash. Drawn in `currentColor` (stroke), inside an SVG.
pub fn state_symbol(health: Health) -> Html {
    match health {
        Health::Healthy => html! { <path class="symbol" d="M-3.6,0.2 L-1.1,2.8 L3.8,-2.6" /> },
        Health::Waiting => html! {
            <g class="symbol">
                <circle r="4.6" />
                <path d="M0,-2.6 L0,0 L2.2,1.4" />
            </g>
        },
        Health::Erroring => html! { <path class="symbol" d="M-3,-3 L3,3 M3,-3 L-3,3" /> },
        Health::Idle => html! { <path class="symbol" d="M-3,0 L3,0" /> },
        Health::Blocking => html! { <path class="symbol filled" d="M-3,-3 H3 V3 H-3 Z" /> },
        // An hourglass: it works, but slowly.
        Health::Slow => html! { <path class="symbol" d="M-3,-4 H3 L-3,4 H3 Z" /> },
    }
}

/// The CSS class of a state (its colour).
pub fn health_class(health: Health) -> &'static str {
    match health {
        Health::Healthy => "healthy",
        Health::Idle => "idle",
        Health::Waiting => "waiting",
        Health::Erroring => "erroring",
        Health::Blocking => "blocking",
        Health::Slow => "slow",
    }
}

/// A state badge for HTML: a coloured disc with its symbol (the word goes beside it).
pub fn state_badge(health: Health) -> Html {
    let class = health_class(health);
    html! {
        <svg class={classes!("state-badge", class)} viewBox="-9 -9 18 18" width="18" height="18" aria-hidden="true">
            <circle class="disc" r="9" />
            { state_symbol(health) }
        </svg>
    }
}

/// A transport icon by name: `reset`, `back`, `play`, `pause`, `step`.
pub fn transport(name: &str) -> Html {
    let path = match name {
        "reset" => "M5 5h2.6v14H5zM19 5.5 9.5 12l9.5 6.5z",
        "back" => "M17 5.5 7.5 12l9.5 6.5z",
        "play" => "M8 5l11 7-11 7z",
        "pause" => "M6 5h4.2v14H6zM13.8 5H18v14h-4.2z",
        "step" => "M5 5.5l9.5 6.5L5 18.5zM16.4 5H19v14h-2.6z",
        _ => "",
    };
    html! {
        <svg class="transport-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
            <path d={path} />
        </svg>
    }
}

/// The narration's badge for a kind of line: a clock for a lock wait, a cycle for a
/// deadlock, "!" for a failure, a cross for a schema break, a triangle for an action.
pub fn narration_badge(kind: crate::sim::world::NarrationKind) -> Html {
    use crate::sim::world::NarrationKind;
    let (class, symbol) = match kind {
        NarrationKind::LockWait => ("waiting", state_symbol(Health::Waiting)),
        NarrationKind::Deadlock => (
            "erroring",
            html! { <path class="symbol" d="M3.5,-1.5 A4,4 0 1 0 3.8,1.8 M3.5,-4.2 L3.5,-1.2 L0.6,-1.4" /> },
        ),
        NarrationKind::Error => (
            "erroring",
            html! { <path class="symbol" d="M0,-4 L0,1.2 M0,3.6 L0,3.8" /> },
        ),
        NarrationKind::SchemaBreak => ("erroring", state_symbol(Health::Erroring)),
        NarrationKind::Action => (
            "action",
            html! { <path class="symbol filled" d="M-2.4,-3.6 L3.6,0 L-2.4,3.6 Z" /> },
        ),
    };
    html! {
        <svg class={classes!("state-badge", class)} viewBox="-9 -9 18 18" width="18" height="18" aria-hidden="true">
            <circle class="disc" r="9" />
            { symbol }
        </svg>
    }
}

/// The theme button's icon: a sun (light), a moon (dark), a half-filled disc (follow the system).
pub fn theme(name: &str) -> Html {
    let shape = match name {
        "light" => html! {
            <g>
                <circle cx="12" cy="12" r="4.2" />
                <path class="rays" d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1" />
            </g>
        },
        "dark" => html! { <path d="M15.5 3.5a8.5 8.5 0 1 0 5 12.9A7 7 0 0 1 15.5 3.5z" /> },
        _ => html! {
            <g>
                <circle class="outline" cx="12" cy="12" r="8" />
                <path d="M12 4a8 8 0 0 1 0 16z" />
            </g>
        },
    };
    html! {
        <svg class="theme-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">{ shape }</svg>
    }
}
