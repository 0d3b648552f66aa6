// Frame times in the page, for `make bench-page` and `make profile-page`.

/** The speed menu's values (the transport's `Speed` select). */
export const SPEED_OPTIONS = { "1×": "1", "16×": "3", max: "4" };

/** Run in the page (`page.evaluate(FRAME_TICK)`): records, at every animation frame, its time and
 * the page's own figures for the frame (the clock's `data-step-ms`, `data-view-ms`: the world's
 * advance and the view's rebuild) in `window.__frames`. The page's own frame loop was asked for
 * before this one, so it runs first in each frame, and Yew renders its result in the microtask
 * after it: what this reads is the frame's own work. (A frame the page leaves unchanged — paused
 * — keeps the last figures.) */
export const FRAME_TICK = () => {
  window.__frames = [];
  const tick = (t) => {
    const clock = document.querySelector("#clock");
    window.__frames.push([t, Number(clock?.dataset.stepMs ?? 0), Number(clock?.dataset.viewMs ?? 0)]);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
};

/** Frame times (p50, p95, max) and, for the frames over 20 ms, where their time went: the
 * world's advance, the view's rebuild (the page's own figures) and the rest (Yew, layout, paint).
 * `frames`: [rAF time, advance ms, view ms] per frame. */
export function framePhases(frames) {
  // A frame's work (done in the page's callback, which runs before the benchmark's) makes the
  // gap to the next frame long.
  const rows = frames.slice(1).map(([t], i) => ({ delta: t - frames[i][0], step: frames[i][1], view: frames[i][2] })).slice(5);
  if (rows.length === 0) return "too few frames to measure";
  const deltas = rows.map((r) => r.delta).sort((a, b) => a - b);
  const p = (q) => deltas[Math.min(deltas.length - 1, Math.floor(deltas.length * q))].toFixed(1);
  const slow = rows.filter((r) => r.delta > 20);
  const mean = (f) => (slow.reduce((sum, r) => sum + f(r), 0) / Math.max(1, slow.length)).toFixed(1);
  return `frame p50 ${p(0.5)} ms, p95 ${p(0.95)} ms, max ${deltas.at(-1).toFixed(1)} ms over ${rows.length} frames; ` +
    `${slow.length} over 20 ms (with a view rebuilt: ${slow.filter((r) => r.view > 0).length}), their mean: ` +
    `advance ${mean((r) => r.step)} ms, view ${mean((r) => r.view)} ms, the rest ${mean((r) => r.delta - r.step - r.view)} ms`;
}

