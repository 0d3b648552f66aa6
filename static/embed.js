/*
 * Dataflow Lab embeds: a live simulation in a documentation page.
 *
 *   <script src="https://YOUR-HOST/embed.js" defer></script>
 *   <div data-dataflow-lab data-scenario="shop" data-seed="7" data-panels="topology,latency"></div>
 *
 * Each such element becomes an <iframe> of the app (`?embed=1`), made only when the element is
 * scrolled near the screen, and sized to its content as it changes. Attributes (all optional):
 * data-scenario, data-lesson, data-seed, data-panels, data-theme (light, dark, auto; default
 * auto: the reader's system setting), data-mode, data-speed, data-t, data-isolation, data-src
 * (an edited scenario, as Share writes it), data-run (recorded actions), data-autoplay,
 * data-paused, data-title, data-height (the placeholder's height before loading, in px).
 *
 * Each embed can be driven from the page:
 *
 *   const lab = DataflowLab.get("my-embed");      // the element, or its id
 *   lab.play(); lab.pause(); lab.reset(); lab.seek(30); lab.speed(4);
 *   lab.load({ scenario: "cdc-basics", seed: 3, mode: "cdc" });
 *   lab.element.addEventListener("dataflow-lab:state", (e) => console.log(e.detail.time));
 *
 * `state` events carry time (s), clock, running, speed, seed, scenario, mode, events and the
 * checkpoints; `error` events (also written to the console) say why a command could not be
 * done, or what is wrong with an embed's attributes. Messages are exchanged with postMessage,
 * only between this page and the embed's own frame, at their own origins. With `defer`, this
 * script runs after the page's inline scripts: drive embeds from a DOMContentLoaded listener.
 */
(function () {
  "use strict";
  if (window.DataflowLab && window.DataflowLab.version) return;

  const script = document.currentScript;
  // The app lives next to this script, unless the script tag says where (data-app).
  const APP = new URL((script && script.dataset.app) || "./", (script && script.src) || location.href);
  const ORIGIN = APP.origin;
  const SOURCE = "dataflow-lab";
  const PARAMETERS = ["scenario", "lesson", "seed", "panels", "theme", "mode", "speed", "t", "isolation", "src", "run"];
  const FLAGS = ["autoplay", "paused"];
  const embeds = new Map();
  let counter = 0;

  /** One embed: its element, its frame once loaded, and the commands it takes. */
  class Embed {
    constructor(element) {
      this.element = element;
      if (!element.id) element.id = `dataflow-lab-${++counter}`;
      this.id = element.id;
      this.frame = null;
      this.ready = false;
      this.state = null;
      this.queue = [];
      this.placeholder();
    }

    /** The frame's address: the app with embed=1 and the element's settings. */
    url() {
      const url = new URL(APP.href);
      url.search = "";
      url.hash = "";
      url.searchParams.set("embed", "1");
      const data = this.element.dataset;
      for (const name of PARAMETERS) {
        if (data[name]) url.searchParams.set(name, data[name]);
      }
      for (const name of FLAGS) {
        if (name in data && data[name] !== "false" && data[name] !== "0") url.searchParams.set(name, "1");
      }
      url.searchParams.set("origin", location.origin);
      url.searchParams.set("id", this.id);
      return url.href;
    }

    /** The same run in the whole app, every panel shown (for the placeholder's link). */
    appUrl() {
      const url = new URL(this.url());
      for (const name of ["embed", "origin", "id", "panels", "autoplay", "paused", "theme"]) url.searchParams.delete(name);
      const lesson = url.searchParams.get("lesson");
      if (lesson && !url.searchParams.has("scenario")) url.searchParams.set("scenario", lesson);
      url.searchParams.delete("lesson");
      return url.href;
    }

    /** What stands in the page until the embed is scrolled to: its size, a word, a link. */
    placeholder() {
      const element = this.element;
      const height = Number(element.dataset.height) || 380;
      element.style.display = "block";
      element.style.minHeight = `${height}px`;
      element.style.boxSizing = "border-box";
      element.style.border = "1px dashed rgba(128, 128, 128, 0.5)";
      element.style.borderRadius = "8px";
      if (element.children.length === 0) {
        const link = document.createElement("a");
        link.href = this.appUrl();
        link.textContent = `Dataflow Lab: ${element.dataset.lesson || element.dataset.scenario || "shop"} — a live simulation, loaded when scrolled to`;
        link.style.cssText = "display:block;padding:14px 16px;color:inherit;opacity:0.75;font:14px/1.4 system-ui,sans-serif";
        element.append(link);
      }
    }

    /** Makes the frame (once). */
    mount() {
      if (this.frame) return;
      const frame = document.createElement("iframe");
      frame.src = this.url();
      const what = this.element.dataset.lesson || this.element.dataset.scenario || "shop";
      frame.title = this.element.dataset.title || `Dataflow Lab: ${what} (live simulation)`;
      frame.loading = "eager";
      frame.setAttribute("allow", "clipboard-write");
      frame.style.cssText = `display:block;width:100%;border:0;height:${this.element.style.minHeight || "380px"};color-scheme:normal`;
      // Focus on the placeholder (a reader tabbing to it) moves into the frame's page.
      const focused = this.element.contains(document.activeElement);
      this.element.replaceChildren(frame);
      this.element.style.minHeight = "";
      this.element.style.border = "";
      if (focused) frame.focus();
      this.frame = frame;
    }

    /** Sends a command (the frame is made first if it is not yet; sent once it is ready). */
    send(message) {
      if (!this.ready) {
        this.queue.push(message);
        this.mount();
        return;
      }
      this.frame.contentWindow.postMessage(message, ORIGIN);
    }

    play() { this.send({ type: "play" }); }
    pause() { this.send({ type: "pause" }); }
    reset() { this.send({ type: "reset" }); }
    /** Goes to a simulated time: seconds (90), or text ("90s", "1500ms"). */
    seek(t) { this.send({ type: "seek", t }); }
    speed(speed) { this.send({ type: "speed", speed }); }
    /** Loads a built-in scenario ({ scenario, seed, mode }; each optional). */
    load(options) { this.send({ type: "load", ...(options || {}) }); }
    /** Asks for the state now (it comes as a dataflow-lab:state event). */
    requestState() { this.send({ type: "state" }); }
    /** Calls `listener(detail)` at each message of this type: "state", "error", "resize". */
    on(type, listener) {
      this.element.addEventListener(`dataflow-lab:${type}`, (event) => listener(event.detail));
      return this;
    }

    receive(data) {
      if (data.type === "resize" && Number.isFinite(data.height) && data.height > 0) {
        this.frame.style.height = `${Math.ceil(data.height)}px`;
      }
      if (data.type === "error" && console && console.warn) {
        console.warn(`Dataflow Lab embed #${this.id}: ${data.message}`);
      }
      if (data.type === "state") {
        this.state = data;
        if (!this.ready) {
          this.ready = true;
          for (const message of this.queue.splice(0)) this.frame.contentWindow.postMessage(message, ORIGIN);
        }
      }
      this.element.dispatchEvent(new CustomEvent(`dataflow-lab:${data.type}`, { detail: data }));
    }
  }

  // Messages from the embeds: only from their own frames, at the app's origin.
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.origin !== ORIGIN || !data || data.source !== SOURCE) return;
    for (const embed of embeds.values()) {
      if (embed.frame && event.source === embed.frame.contentWindow) {
        embed.receive(data);
        return;
      }
    }
  });

  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        observer.unobserve(entry.target);
        const embed = embeds.get(entry.target);
        if (embed) embed.mount();
      }
    }, { rootMargin: "200px 0px" })
    : null;

  /** Turns the data-dataflow-lab elements under `root` (the document) into embeds. */
  function scan(root) {
    for (const element of (root || document).querySelectorAll("[data-dataflow-lab]")) {
      if (embeds.has(element)) continue;
      const embed = new Embed(element);
      embeds.set(element, embed);
      if (observer) observer.observe(element);
      else embed.mount();
    }
  }

  /** The embed of an element, or of the element with this id. */
  function get(target) {
    const element = typeof target === "string" ? document.getElementById(target) : target;
    return (element && embeds.get(element)) || null;
  }

  window.DataflowLab = { version: 1, scan, get, embeds: () => [...embeds.values()] };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => scan());
  else scan();
})();
