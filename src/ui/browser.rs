//! The few things the page needs from the browser: a clock for timing statements, the
//! browser's storage for keeping what the user wrote, the mount point and the panic banner.
//!
//! Every call degrades quietly when the browser refuses (storage disabled, no `performance`):
//! the console still works, it only forgets more or times less precisely.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, UnwrapThrowExt};
use web_sys::{Element, Storage};

const DRAFT_KEY: &str = "dataflow-lab.console.draft";
const HISTORY_KEY: &str = "dataflow-lab.console.history";
/// Separates history entries in storage (ASCII record separator: never typed in SQL).
const RECORD_SEPARATOR: char = '\u{1e}';

/// Milliseconds from the browser's monotonic clock (`performance.now()`).
pub fn now_ms() -> f64 {
    match web_sys::window() {
        Some(window) => window.performance().map_or(0.0, |p| p.now()),
        // In a worker: its own `performance`.
        None => js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .ok()
            .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
            .map_or(0.0, |p| p.now()),
    }
}

fn local_storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The editor text saved by [`save_draft`], if any.
pub fn load_draft() -> Option<String> {
    local_storage()?.get_item(DRAFT_KEY).ok()?
}

/// Keeps the editor text across reloads (and across a crash of the engine).
pub fn save_draft(draft: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(DRAFT_KEY, draft);
    }
}

/// The console history saved by [`save_history`], oldest first.
pub fn load_history() -> Vec<String> {
    local_storage()
        .and_then(|s| s.get_item(HISTORY_KEY).ok().flatten())
        .map(|text| {
            text.split(RECORD_SEPARATOR)
                .filter(|entry| !entry.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps the console history across reloads.
pub fn save_history(entries: &[String]) {
    if let Some(storage) = local_storage() {
        let text = entries.join(&RECORD_SEPARATOR.to_string());
        let _ = storage.set_item(HISTORY_KEY, &text);
    }
}

/// Calls `then` once the browser has painted what is on screen now (an animation frame, then a
/// task after it); at once if the page has no window.
pub fn after_paint(then: impl FnOnce() + 'static) {
    let Some(window) = web_sys::window() else {
        then();
        return;
    };
    let after = Closure::once_into_js(then);
    let frame = Closure::once_into_js(move || {
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(after.unchecked_ref(), 0);
        }
    });
    let _ = window.request_animation_frame(frame.unchecked_ref());
}

/// The element the app mounts on (`#app`), emptied of its loading placeholder; the body if
/// the page has no `#app`.
pub fn app_root() -> Element {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect_throw("the page has no document");
    match document.get_element_by_id("app") {
        Some(root) => {
            root.set_inner_html("");
            root
        }
        None => document
            .body()
            .map(|b| b.unchecked_into())
            .expect_throw("the page has no body"),
    }
}

thread_local! {
    /// Whether a panic was already reported: after the first one the wasm instance is dead, and
    /// whatever runs next (an animation frame finding a `RefCell` still borrowed) panics again
    /// with a message that says nothing about the cause. Only the first is reported.
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// What a panic said, without the build path of the file it came from.
/// What a panic said (its message, without where in the source it was).
pub(crate) fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "an internal error".to_owned())
}

/// Handles a panic of the page (the engine runs in the workers, whose panics their clients
/// handle): logs it; on the simulator, where the run can be replayed, saves it and reloads the
/// page, which comes back at the same scenario, seed and time with the user's commands (see
/// [`crate::ui::recovery`]); otherwise shows the `#fatal` banner of `index.html` with the
/// message. WebAssembly cannot continue after a panic: the editor text and the history are
/// already in storage.
pub fn install_panic_banner() {
    yew::set_custom_panic_hook(Box::new(|info| {
        if PANICKED.with(|p| p.replace(true)) {
            return;
        }
        let message = panic_message(info);
        web_sys::console::error_1(&format!("Dataflow Lab stopped: {message}").into());
        let on_simulator = query_param("view").as_deref() != Some("console");
        if on_simulator && crate::ui::recovery::save_crash(None, &message) {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
            return;
        }
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Some(detail) = document.get_element_by_id("fatal-detail") {
            detail.set_text_content(Some(&message));
        }
        if let Some(banner) = document.get_element_by_id("fatal") {
            let _ = banner.remove_attribute("hidden");
        }
        if let Some(body) = document.body() {
            let _ = body.class_list().add_1("crashed");
        }
        if let Some(button) = document
            .get_element_by_id("fatal-reload")
            .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = button.focus();
        }
    }));
}

fn session_storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// A value kept for this tab (`sessionStorage`): it survives a reload, not a new tab.
pub fn session_get(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok()?
}

/// Keeps `value` for this tab under `key` (quietly nothing if the browser refuses).
pub fn session_set(key: &str, value: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(key, value);
    }
}

/// Forgets `key` for this tab.
pub fn session_remove(key: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

/// A value kept in this browser (`localStorage`), if any.
pub fn local_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok()?
}

/// Keeps `value` in this browser under `key`; whether the browser took it (it refuses when its
/// storage for the site is full, or storage is off).
pub fn local_set(key: &str, value: &str) -> bool {
    local_storage().is_some_and(|storage| storage.set_item(key, value).is_ok())
}

/// Forgets `key` in this browser.
pub fn local_remove(key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(key);
    }
}

/// The first element `selector` finds, if it is an HTML element.
fn html_element(selector: &str) -> Option<web_sys::HtmlElement> {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(selector).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
}

/// Moves the keyboard focus to the first element `selector` finds, if any.
pub fn focus(selector: &str) {
    if let Some(element) = html_element(selector) {
        let _ = element.focus();
    }
}

/// Moves the keyboard focus to the first element `selector` finds, only if the focus was lost
/// (it is on the page's body: the button that had it went away or was disabled), so that a
/// student typing elsewhere keeps their place.
pub fn focus_if_lost(selector: &str) {
    if focus_lost() {
        focus(selector);
    }
}

/// Whether the keyboard's focus is on the page's body (or nowhere).
fn focus_lost() -> bool {
    let document = web_sys::window().and_then(|w| w.document());
    document.as_ref().is_some_and(|d| {
        d.active_element()
            .is_none_or(|e| d.body().is_some_and(|body| e == *body.as_ref()))
    })
}

/// Like [`focus_if_lost`], and brings the element to the top of the window (below the sticky
/// transport bar, through its `scroll-margin-top`): a result that appeared far below.
pub fn reveal_if_lost(selector: &str) {
    if !focus_lost() {
        return;
    }
    if let Some(element) = html_element(selector) {
        let _ = element.focus();
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Start);
        element.scroll_into_view_with_scroll_into_view_options(&options);
    }
}

/// Offers `text` as a file called `file_name` to save (the browser's download), made in the
/// page: nothing is sent anywhere.
pub fn download(file_name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    download_url(file_name, &url);
    // The download reads the object URL after this returns: let it go a little later.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
}

/// Offers what `url` holds (an object or data URL) as a file called `file_name`.
fn download_url(file_name: &str, url: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(anchor) = document.create_element("a").and_then(|a| {
        a.dyn_into::<web_sys::HtmlAnchorElement>()
            .map_err(Into::into)
    }) {
        anchor.set_href(url);
        anchor.set_download(file_name);
        anchor.click();
    }
}

/// The styles a chart's look depends on, written on each element of an exported copy (the
/// page's style sheet does not travel with the file).
const CHART_STYLES: &[&str] = &[
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "stroke-linejoin",
    "stroke-linecap",
    "stroke-opacity",
    "opacity",
    "font-family",
    "font-size",
    "font-weight",
    "text-anchor",
    "visibility",
];

/// The `<svg>` that `selector` finds, as a standalone SVG file: each element's computed style
/// written on it, the panel's background, a size and the SVG namespace. With its width and
/// height in CSS pixels.
fn standalone_svg(selector: &str) -> Option<(String, f64, f64)> {
    let window = web_sys::window()?;
    let document = window.document()?;
    let svg = document.query_selector(selector).ok()??;
    let copy = svg
        .clone_node_with_deep(true)
        .ok()?
        .dyn_into::<Element>()
        .ok()?;
    let (originals, copies) = (
        svg.query_selector_all("*").ok()?,
        copy.query_selector_all("*").ok()?,
    );
    let style_of = |element: &Element| {
        let Ok(Some(computed)) = window.get_computed_style(element) else {
            return String::new();
        };
        CHART_STYLES
            .iter()
            .filter_map(|property| {
                let value = computed.get_property_value(property).ok()?;
                (!value.is_empty()).then(|| format!("{property}:{value};"))
            })
            .collect()
    };
    for i in 0..originals.length() {
        let (Some(original), Some(copied)) = (originals.item(i), copies.item(i)) else {
            continue;
        };
        let (Ok(original), Ok(copied)) =
            (original.dyn_into::<Element>(), copied.dyn_into::<Element>())
        else {
            continue;
        };
        let _ = copied.set_attribute("style", &style_of(&original));
    }
    // The background the chart is drawn on: the nearest ancestor's that has one.
    let mut background = String::from("#ffffff");
    let mut at = svg.parent_element();
    while let Some(element) = at {
        if let Ok(Some(computed)) = window.get_computed_style(&element) {
            let colour = computed
                .get_property_value("background-color")
                .unwrap_or_default();
            if !colour.is_empty() && colour != "rgba(0, 0, 0, 0)" && colour != "transparent" {
                background = colour;
                break;
            }
        }
        at = element.parent_element();
    }
    let rect = svg.get_bounding_client_rect();
    let (width, height) = (rect.width().max(1.0), rect.height().max(1.0));
    let _ = copy.set_attribute("xmlns", "http://www.w3.org/2000/svg");
    let _ = copy.set_attribute("width", &format!("{width:.0}"));
    let _ = copy.set_attribute("height", &format!("{height:.0}"));
    let _ = copy.set_attribute(
        "style",
        &format!("background:{background};{}", style_of(&svg)),
    );
    let text = web_sys::XmlSerializer::new()
        .ok()?
        .serialize_to_string(&copy)
        .ok()?;
    Some((text, width, height))
}

/// Offers the chart that `selector` finds as an SVG file.
pub fn download_svg(selector: &str, file_name: &str) {
    if let Some((svg, _, _)) = standalone_svg(selector) {
        download(file_name, "image/svg+xml", &svg);
    }
}

/// Offers the chart that `selector` finds as a PNG file, drawn at twice its size on screen.
pub fn download_png(selector: &str, file_name: &str) {
    let Some((svg, width, height)) = standalone_svg(selector) else {
        return;
    };
    let Ok(image) = web_sys::HtmlImageElement::new() else {
        return;
    };
    let file_name = file_name.to_owned();
    let drawn = image.clone();
    let onload = Closure::once_into_js(move || {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Some(canvas) = document
            .create_element("canvas")
            .ok()
            .and_then(|c| c.dyn_into::<web_sys::HtmlCanvasElement>().ok())
        else {
            return;
        };
        let scale = 2.0;
        canvas.set_width((width * scale).round() as u32);
        canvas.set_height((height * scale).round() as u32);
        let Some(context) = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
        else {
            return;
        };
        let _ = context.scale(scale, scale);
        let _ = context
            .draw_image_with_html_image_element_and_dw_and_dh(&drawn, 0.0, 0.0, width, height);
        if let Ok(url) = canvas.to_data_url_with_type("image/png") {
            download_url(&file_name, &url);
        }
    });
    image.set_onload(Some(onload.unchecked_ref()));
    image.set_src(&format!(
        "data:image/svg+xml;charset=utf-8,{}",
        js_sys::encode_uri_component(&svg)
    ));
}

/// Reads a file the user chose or dropped as text, then calls `then` with its name and text
/// (or with what went wrong).
pub fn read_file(file: web_sys::File, then: impl FnOnce(String, Result<String, String>) + 'static) {
    let name = file.name();
    let text = file.text();
    wasm_bindgen_futures::spawn_local(async move {
        let read = wasm_bindgen_futures::JsFuture::from(text)
            .await
            .map_err(|e| {
                e.as_string()
                    .unwrap_or_else(|| "the browser could not read it".to_owned())
            })
            .and_then(|v| v.as_string().ok_or_else(|| "it is not text".to_owned()));
        then(name, read);
    });
}

/// The value of `name` in the page's query string (`?scenario=shop`), if present.
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Sets these query parameters in the address bar (keeping the others; `None` removes one),
/// without reloading, so the link shows what is on screen.
pub fn set_query(pairs: &[(&str, Option<&str>)]) {
    let (Some(window), Some(query)) = (web_sys::window(), query_with(pairs)) else {
        return;
    };
    let url = if query.is_empty() {
        window.location().pathname().unwrap_or_default()
    } else {
        format!("?{query}")
    };
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// The page's query string with these parameters set (keeping the others; `None` removes one).
fn query_with(pairs: &[(&str, Option<&str>)]) -> Option<String> {
    let search = web_sys::window()?.location().search().unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    for (name, value) in pairs {
        match value {
            Some(value) => params.set(name, value),
            None => params.delete(name),
        }
    }
    Some(String::from(params.to_string()))
}

/// The page's address with these query parameters set (keeping the others; `None` leaves one
/// out): a link to what is on screen.
pub fn url_with_query(pairs: &[(&str, Option<&str>)]) -> String {
    let (Some(window), Some(query)) = (web_sys::window(), query_with(pairs)) else {
        return String::new();
    };
    let location = window.location();
    let base = format!(
        "{}{}",
        location.origin().unwrap_or_default(),
        location.pathname().unwrap_or_default()
    );
    if query.is_empty() {
        base
    } else {
        format!("{base}?{query}")
    }
}

/// Puts `text` on the clipboard (the browser may refuse: the link stays selectable on screen).
pub fn copy_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

/// A `requestAnimationFrame` loop calling `on_frame` with the frame's time (ms) until dropped.
pub struct AnimationLoop {
    running: Rc<Cell<bool>>,
}

type FrameClosure = Closure<dyn FnMut(f64)>;

impl AnimationLoop {
    /// Starts the loop.
    pub fn start(on_frame: impl Fn(f64) + 'static) -> Self {
        let running = Rc::new(Cell::new(true));
        let slot: Rc<RefCell<Option<FrameClosure>>> = Rc::new(RefCell::new(None));
        let next = Rc::clone(&slot);
        let alive = Rc::clone(&running);
        *slot.borrow_mut() = Some(Closure::new(move |at: f64| {
            if !alive.get() {
                next.borrow_mut().take(); // Drops the closure: the loop ends.
                return;
            }
            on_frame(at);
            request_frame(&next);
        }));
        request_frame(&slot);
        Self { running }
    }
}

fn request_frame(slot: &Rc<RefCell<Option<FrameClosure>>>) {
    if let (Some(window), Some(callback)) = (web_sys::window(), slot.borrow().as_ref()) {
        let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
    }
}

impl Drop for AnimationLoop {
    fn drop(&mut self) {
        self.running.set(false);
    }
}

/// A `keydown` listener on the document, removed when dropped.
pub struct KeyListener {
    closure: Closure<dyn FnMut(web_sys::KeyboardEvent)>,
}

impl KeyListener {
    /// Listens for keys pressed anywhere on the page.
    pub fn new(handler: impl FnMut(web_sys::KeyboardEvent) + 'static) -> Self {
        let closure = Closure::new(handler);
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let _ = document
                .add_event_listener_with_callback("keydown", closure.as_ref().unchecked_ref());
        }
        Self { closure }
    }
}

impl Drop for KeyListener {
    fn drop(&mut self) {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let _ = document.remove_event_listener_with_callback(
                "keydown",
                self.closure.as_ref().unchecked_ref(),
            );
        }
    }
}

/// The value of the `<select>` an event came from (its `change` event), if it came from one.
pub fn select_value(event: &web_sys::Event) -> Option<String> {
    event
        .target()?
        .dyn_into::<web_sys::HtmlSelectElement>()
        .ok()
        .map(|select| select.value())
}

/// Whether a key event comes from a control that uses keys itself (a text field, a select, a
/// button), so page shortcuts must leave it alone.
pub fn typing_in_control(event: &web_sys::KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .is_some_and(|element| {
            let tag = element.tag_name().to_ascii_uppercase();
            matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || element
                    .closest("[contenteditable=true]")
                    .ok()
                    .flatten()
                    .is_some()
        })
}

const THEME_KEY: &str = "dataflow-lab.theme";

/// The theme chosen with the theme button: `light`, `dark`, or `system` (the default).
pub fn load_theme() -> String {
    local_storage()
        .and_then(|s| s.get_item(THEME_KEY).ok().flatten())
        .filter(|t| t == "light" || t == "dark")
        .unwrap_or_else(|| "system".to_owned())
}

/// Applies `theme` to the page (`data-theme` on `<html>`) and remembers it.
pub fn apply_theme(theme: &str) {
    show_theme(theme);
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(THEME_KEY, theme);
    }
}

/// Sets the page's theme for this visit only (an embed's `theme=`): not remembered.
pub fn show_theme(theme: &str) {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element());
    if let Some(root) = root {
        let _ = match theme {
            "light" | "dark" => root.set_attribute("data-theme", theme),
            _ => root.remove_attribute("data-theme"),
        };
    }
}

/// Marks the document as an embed (`class="embedded"` on `<html>`), for the stylesheet.
pub fn mark_embedded() {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element());
    if let Some(root) = root {
        let _ = root.class_list().add_1("embedded");
    }
}

/// The page's own origin (`https://example.org`).
pub fn own_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// Where the app is served from: its origin and folder (`https://example.org/lab/`).
pub fn app_base() -> String {
    let Some(window) = web_sys::window() else {
        return String::new();
    };
    let path = window.location().pathname().unwrap_or_default();
    let folder = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{}{folder}", own_origin())
}

/// Whether the page is an embed in another (`?embed=1`).
pub fn embedded() -> bool {
    query_param("embed").as_deref() == Some("1")
}

/// The built-in scenario the address names: `scenario=`, or a lesson's (`lesson=`).
pub fn scenario_param() -> Option<String> {
    query_param("scenario").or_else(|| query_param("lesson"))
}

/// The theme to start in: the link's (`theme=`, for this visit), else in an embed the reader's
/// system setting (an embed's colours are its author's, not this browser's choice in the
/// app), else the one chosen with the theme button (`system` when none).
pub fn initial_theme() -> String {
    match query_param("theme").map(|t| crate::embed::Theme::parse(&t)) {
        Some(Ok(theme)) => theme.setting().to_owned(),
        _ if embedded() => "system".to_owned(),
        _ => load_theme(),
    }
}

/// Posts `json` (an object's JSON text) to the parent window, to `origin` only.
pub fn post_to_parent(json: &str, origin: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let (Ok(Some(parent)), Ok(value)) = (window.parent(), js_sys::JSON::parse(json)) else {
        return;
    };
    if !js_sys::Object::is(&parent, &window) {
        let _ = parent.post_message(&value, origin);
    }
}

/// A listener for the parent window's messages from one origin, removed when dropped: calls
/// `handler` with each message's data as JSON text (a string's text as it is). Messages from
/// any other window or origin are dropped unread.
pub struct ParentMessages {
    closure: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl ParentMessages {
    /// Listens for messages from the parent window at `origin`.
    pub fn new(origin: String, mut handler: impl FnMut(String) + 'static) -> Self {
        let closure = Closure::new(move |event: web_sys::MessageEvent| {
            let from_parent = match (web_sys::window(), event.source()) {
                (Some(window), Some(source)) => window
                    .parent()
                    .ok()
                    .flatten()
                    .is_some_and(|parent| js_sys::Object::is(&source, &parent)),
                _ => false,
            };
            if !crate::embed::accepts(&origin, from_parent, &event.origin()) {
                return;
            }
            let data = event.data();
            let text = match data.as_string() {
                Some(text) => text,
                None => js_sys::JSON::stringify(&data)
                    .ok()
                    .and_then(|s| s.as_string())
                    .unwrap_or_default(),
            };
            handler(text);
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .add_event_listener_with_callback("message", closure.as_ref().unchecked_ref());
        }
        Self { closure }
    }
}

impl Drop for ParentMessages {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            let _ = window.remove_event_listener_with_callback(
                "message",
                self.closure.as_ref().unchecked_ref(),
            );
        }
    }
}

/// Calls a handler with an element whenever the element's size changes (and once when it starts
/// watching), through a `ResizeObserver`: the browser says so after its layout, so reading the
/// element's size there forces none. Stops when dropped.
pub struct SizeWatcher {
    observer: Option<web_sys::ResizeObserver>,
    _closure: Closure<dyn FnMut()>,
}

impl SizeWatcher {
    /// Watches `element`.
    pub fn new(
        element: web_sys::Element,
        mut handler: impl FnMut(&web_sys::Element) + 'static,
    ) -> Self {
        let watched = element.clone();
        let closure = Closure::<dyn FnMut()>::new(move || handler(&watched));
        let observer = web_sys::ResizeObserver::new(closure.as_ref().unchecked_ref()).ok();
        if let Some(observer) = &observer {
            observer.observe(&element);
        }
        Self {
            observer,
            _closure: closure,
        }
    }
}

/// Watches the height of the element with this id, calling `handler` with it (CSS pixels,
/// rounded up) whenever it changes; stops when dropped.
pub struct HeightWatcher {
    /// The watcher (none when there is no such element).
    _watcher: Option<SizeWatcher>,
}

impl HeightWatcher {
    /// Watches `#id`.
    pub fn new(id: &str, mut handler: impl FnMut(u32) + 'static) -> Self {
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id));
        let mut last = 0;
        let watcher = element.map(|element| {
            SizeWatcher::new(element, move |element| {
                let height = element.get_bounding_client_rect().height().ceil() as u32;
                if height != last {
                    last = height;
                    handler(height);
                }
            })
        });
        Self { _watcher: watcher }
    }
}

impl Drop for SizeWatcher {
    fn drop(&mut self) {
        if let Some(observer) = &self.observer {
            observer.disconnect();
        }
    }
}
