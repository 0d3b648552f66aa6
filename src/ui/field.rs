//! An input whose text belongs to the user while they edit it.
//!
//! The simulator re-renders its panels about ten times a second while it plays. A plain
//! controlled `<input value=…>` would be reset to the model's value at every render, so a student
//! typing `250` into a rate box would see `8`, `8`, `85`, `8`. A [`CommitInput`] keeps what the
//! user typed (a *draft*) until they commit it — Enter, or leaving the field — and only then
//! sends it; Escape throws the draft away. While no draft is open, it shows the model's value.

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The field's inputs.
#[derive(Properties, PartialEq)]
pub struct CommitInputProps {
    /// The model's value, shown whenever the user is not editing.
    pub value: AttrValue,
    /// Called with the text when the user commits an edit (Enter or leaving the field).
    pub on_commit: Callback<String>,
    /// The input's type (`number`, `text`).
    #[prop_or(AttrValue::Static("text"))]
    pub kind: AttrValue,
    /// Its accessible name.
    pub label: AttrValue,
    /// Its `id`, if any.
    #[prop_or_default]
    pub id: Option<AttrValue>,
    /// Its CSS class, if any.
    #[prop_or_default]
    pub class: Classes,
    /// `min` for numbers.
    #[prop_or_default]
    pub min: Option<AttrValue>,
    /// `step` for numbers.
    #[prop_or_default]
    pub step: Option<AttrValue>,
    /// A tooltip.
    #[prop_or_default]
    pub title: Option<AttrValue>,
    /// Whether the input takes no edit now.
    #[prop_or_default]
    pub disabled: bool,
}

fn input_of(event: &Event) -> Option<HtmlInputElement> {
    event.target()?.dyn_into::<HtmlInputElement>().ok()
}

/// An input that keeps the user's text while they edit it, whatever re-renders meanwhile.
#[component]
pub fn CommitInput(props: &CommitInputProps) -> Html {
    // `Some(text)`: the user is editing, and this is what they typed so far.
    let draft = use_state_eq(|| None::<String>);
    // Whether an edit is open, known at once (the state above changes at the next render, and
    // Enter is followed by a `change` event in the same tick: the edit is committed once).
    let open = use_mut_ref(|| false);
    let on_input = {
        let (draft, open) = (draft.clone(), open.clone());
        Callback::from(move |event: InputEvent| {
            if let Some(input) = input_of(&event) {
                *open.borrow_mut() = true;
                draft.set(Some(input.value()));
            }
        })
    };
    let commit = {
        let (draft, open, on_commit) = (draft.clone(), open.clone(), props.on_commit.clone());
        move |input: &HtmlInputElement| {
            if std::mem::take(&mut *open.borrow_mut()) {
                draft.set(None);
                on_commit.emit(input.value());
            }
        }
    };
    let on_change = {
        let commit = commit.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = input_of(&event) {
                commit(&input);
            }
        })
    };
    let on_key = {
        let (draft, value) = (draft.clone(), props.value.clone());
        Callback::from(move |event: KeyboardEvent| match event.key().as_str() {
            "Enter" => {
                if let Some(input) = input_of(&event) {
                    event.prevent_default();
                    commit(&input);
                }
            }
            "Escape" => {
                *open.borrow_mut() = false;
                if let Some(input) = input_of(&event) {
                    input.set_value(&value);
                }
                draft.set(None);
            }
            _ => {}
        })
    };
    let shown = (*draft)
        .clone()
        .map_or_else(|| props.value.clone(), AttrValue::from);
    html! {
        <input type={props.kind.clone()} id={props.id.clone()} class={props.class.clone()}
            min={props.min.clone()} step={props.step.clone()}
            title={if draft.is_some() { Some(AttrValue::Static("Press Enter to apply, Esc to cancel")) } else { props.title.clone() }}
            value={shown} aria-label={props.label.clone()} disabled={props.disabled}
            data-editing={draft.is_some().then_some("true")}
            oninput={on_input} onchange={on_change} onkeydown={on_key} />
    }
}
