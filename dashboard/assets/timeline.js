// Draws a page of a run's timeline: one row per step (a bar on the page's time axis, its
// duration, its retries), sleeps and waits for a person as hatched gaps, a folded loop as one
// row that opens onto its records a page at a time.
"use strict";

const cairnTimeline = (() => {
  const { api, el, duration, notice } = cairn;
  const RECORDS_PAGE = 100;

  function span(items) {
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const item of items) {
      t0 = Math.min(t0, item.started_at_ms);
      t1 = Math.max(t1, item.ended_at_ms);
    }
    return [t0, Math.max(t1, t0 + 1)];
  }

  function bar(cls, start, end, [t0, t1]) {
    const b = el("div", { class: "tl-bar " + cls });
    b.style.left = ((100 * (start - t0)) / (t1 - t0)).toFixed(3) + "%";
    b.style.width = Math.max(0.4, (100 * (end - start)) / (t1 - t0)).toFixed(3) + "%";
    return b;
  }

  function recordRow(r, axis, index) {
    const ms = r.ended_at_ms - r.started_at_ms;
    const kind = r.kind || (r.outcome === "committed" ? (r.step ? "step" : "wait") : "end");
    const outcome = typeof r.outcome === "string" ? r.outcome : Object.keys(r.outcome)[0];
    const label = kind === "end" ? outcome : (r.step || (ms > 0 ? "waited" : "—")) + " → " + r.state;
    const retries = r.attempts > 1 ? el("span", { class: "retry" }, " · " + r.attempts + " attempts") : "";
    const cls = [kind, kind === "end" ? outcome : "", r.attempts > 1 ? "retried" : "", "lane" + (r.lane || 0)].join(" ");
    const row = el("div", { class: "tl-row", "data-kind": kind, "data-state": r.state, "data-step": r.step || "" },
      el("div", { class: "tl-label", title: label },
        el("span", { class: "num" }, "#" + (index !== undefined ? index : r.index)), label),
      el("div", { class: "tl-track" }, bar(cls, r.started_at_ms, r.ended_at_ms, axis)),
      el("div", { class: "tl-meta" }, kind === "end" ? "" : duration(ms), retries));
    const errors = r.attempt_errors && r.attempt_errors.length ? r.attempt_errors : (r.message ? [r.message] : []);
    const out = [row];
    if (errors.length) out.push(el("div", { class: "tl-errors" }, errors.join("\n")));
    return out;
  }

  function loopRow(item, axis, runId) {
    const body = item.body.map(([state, step]) => (step || "wait") + "→" + state).join(", ");
    const list = el("div");
    const sub = el("div", { class: "tl-sub", hidden: true }, list);
    let opened = 0;
    const more = async () => {
      try {
        const limit = Math.min(RECORDS_PAGE, item.count - opened);
        const page = await api(`/api/runs/${runId}/history?offset=${item.index + opened}&limit=${limit}`);
        const subAxis = span(page.records);
        page.records.forEach((r, i) => list.append(...recordRow(r, subAxis, item.index + opened + i)));
        opened += page.records.length;
        moreButton.hidden = opened >= item.count;
        moreButton.textContent = `next ${Math.min(RECORDS_PAGE, item.count - opened)} of ${item.count - opened} left`;
      } catch (error) { notice(error.message); }
    };
    const moreButton = el("button", { type: "button", onclick: more }, "more");
    const toggle = el("button", { type: "button", onclick: async () => {
      sub.hidden = !sub.hidden;
      if (!sub.hidden && opened === 0) { sub.append(moreButton); await more(); }
    } }, "records");
    const row = el("div", { class: "tl-row loop-row", "data-kind": "loop" },
      el("div", { class: "tl-label", title: body },
        el("span", { class: "num" }, "#" + item.index), "↻ " + item.iterations.toLocaleString() + " × " + body),
      el("div", { class: "tl-track" }, bar("loop", item.started_at_ms, item.ended_at_ms, axis)),
      el("div", { class: "tl-meta" }, duration(item.ended_at_ms - item.started_at_ms) + " · ",
        duration(item.min_ms) + "–" + duration(item.max_ms) + "/it",
        item.retries ? el("span", { class: "retry" }, " · " + item.retries + " retries") : "", " ", toggle));
    return [row, sub];
  }

  /** Draws `timeline` (a page) into `container`. */
  function draw(container, timeline, runId) {
    const axis = span(timeline.items);
    const rows = [];
    for (const item of timeline.items) {
      if (item.type === "loop") rows.push(...loopRow(item, axis, runId));
      else rows.push(...recordRow(item, axis));
    }
    if (!rows.length) rows.push(el("p", { class: "muted" }, "No transition committed yet."));
    container.replaceChildren(...rows);
  }

  return { draw };
})();
