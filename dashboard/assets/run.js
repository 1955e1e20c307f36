// The run page: summary and buttons, the pending question, the state graph, the key-value
// state, the timeline (paged), all read from /api/runs/{id} and read again when the run's
// event stream says it changed.
"use strict";

(() => {
  const { api, el, time, finished, notice, live } = cairn;
  const runId = location.pathname.split("/")[2];
  const TIMELINE_PAGE = 200;
  let offset = null; // null: follow the latest page
  let view = null;
  let events = null;

  document.getElementById("crumb-run").textContent = "#" + runId;
  document.title = "cairn · run #" + runId;

  async function load() {
    try {
      view = await api("/api/runs/" + runId);
      render(view);
      if (offset !== null || view.timeline.total_items > TIMELINE_PAGE) await loadTimeline();
    } catch (error) {
      notice(error.message);
    }
  }

  async function loadTimeline() {
    const total = view.timeline.total_items;
    const at = offset === null ? Math.max(0, total - TIMELINE_PAGE) : offset;
    const page = await api(`/api/runs/${runId}/timeline?offset=${at}&limit=${TIMELINE_PAGE}`);
    drawTimeline(page);
  }

  function drawTimeline(page) {
    cairnTimeline.draw(document.getElementById("timeline"), page, runId);
    const last = page.offset + page.items.length;
    document.getElementById("timeline-info").textContent =
      `${page.records.toLocaleString()} records in ${page.total_items.toLocaleString()} rows · rows ${page.total_items ? page.offset + 1 : 0}–${last}` +
      (page.lanes > 1 ? ` · ${page.lanes} lanes` : "");
    document.getElementById("earlier").disabled = page.offset === 0;
    document.getElementById("later").disabled = last >= page.total_items;
  }

  function render(v) {
    const run = v.run;
    document.getElementById("title").textContent = run.workflow + " #" + run.id;
    const status = document.getElementById("status");
    status.className = "badge " + run.status;
    status.textContent = run.status;
    const facts = [
      ["Current state", run.state], ["Last step", run.step || "—"],
      ["Transitions", String(run.transitions)], ["Created", time(run.created_at_ms)],
      ["Updated", time(run.updated_at_ms)],
    ];
    document.getElementById("facts").replaceChildren(...facts.flatMap(([k, val]) => [el("dt", {}, k), el("dd", {}, val)]));
    const error = document.getElementById("error");
    error.hidden = !run.error;
    error.textContent = run.error || "";
    const s = run.status;
    document.getElementById("pause").disabled = !["pending", "running", "waiting"].includes(s);
    document.getElementById("unpause").disabled = s !== "paused";
    document.getElementById("resume").disabled = !(s === "failed" || s === "corrupt");
    document.getElementById("cancel").disabled = finished(s);
    renderQuestion(v.question);
    document.getElementById("kv").textContent = JSON.stringify(v.state, null, 2);
    document.getElementById("output-box").hidden = v.output === null || v.output === undefined;
    document.getElementById("output").textContent = JSON.stringify(v.output, null, 2);
    const graph = document.getElementById("graph");
    if (v.graph) cairnGraph.draw(graph, v.graph, run, v.timeline);
    else graph.replaceChildren(el("p", { class: "muted" }, "No graph stored for this workflow's version: start a runtime that registers it."));
    if (offset === null && v.timeline.total_items <= TIMELINE_PAGE) drawTimeline(v.timeline);
  }

  function renderQuestion(q) {
    const box = document.getElementById("question");
    if (!q) { box.hidden = true; box.replaceChildren(); return; }
    const send = (answer) => act("answer", { answer });
    const answers = el("div", { class: "answers" });
    const children = [el("h2", {}, "Waiting for you"), el("p", { class: "prompt" }, q.text)];
    if (q.kind === "approval") {
      answers.append(
        el("button", { type: "button", class: "primary", "data-answer": "approve", onclick: () => send("approved") }, "Approve"),
        el("button", { type: "button", class: "danger", "data-answer": "reject", onclick: () => send("rejected") }, "Reject"));
    } else if (q.kind === "choice") {
      for (const o of q.options) {
        answers.append(el("button", { type: "button", "data-answer": o.id, onclick: () => send({ choice: o.id }) }, o.label));
      }
    } else if (q.kind === "multiple_choice") {
      const boxes = q.options.map((o) => el("input", { type: "checkbox", value: o.id }));
      q.options.forEach((o, i) => answers.append(el("label", {}, boxes[i], o.label)));
      answers.append(el("button", { type: "button", class: "primary", onclick: () =>
        send({ choices: boxes.filter((b) => b.checked).map((b) => b.value) }) }, "Send"));
    } else if (q.kind === "text") {
      const text = el("textarea", { "aria-label": "answer" });
      children.push(text);
      answers.append(el("button", { type: "button", class: "primary", onclick: () => send({ text: text.value }) }, "Send"));
    }
    if (q.allow_custom) {
      const custom = el("input", { type: "text", placeholder: "another answer", "aria-label": "custom answer" });
      answers.append(custom, el("button", { type: "button", onclick: () => send({ custom: custom.value }) }, "Send other"));
    }
    if (q.allow_skip) answers.append(el("button", { type: "button", "data-answer": "skip", onclick: () => send("skipped") }, "Skip"));
    children.push(answers);
    const notes = [];
    if (q.deadline_ms) notes.push("If nobody answers by " + time(q.deadline_ms) + ", the default is taken: " + JSON.stringify(q.default) + ".");
    notes.push("Asked " + time(q.asked_at_ms) + ".");
    children.push(el("p", { class: "muted" }, notes.join(" ")));
    box.replaceChildren(...children);
    box.hidden = false;
  }

  async function act(action, body) {
    try {
      await api(`/api/runs/${runId}/${action}`, { method: "POST", body });
      notice(null);
      await load();
      follow();
    } catch (error) {
      notice(error.message);
    }
  }

  let reloadTimer = null;
  function follow() {
    if (events) return;
    events = new EventSource(`/api/runs/${runId}/events`);
    events.onopen = () => live(true);
    events.onerror = () => { if (events) live(false); };
    events.addEventListener("update", (event) => {
      const update = JSON.parse(event.data);
      if (update.last) { events.close(); events = null; document.getElementById("live").textContent = "finished"; }
      // The first update is the run as the page already shows it: nothing to read again
      // (and a timeline a person opened stays open).
      const shown = view && view.run.transitions === update.transitions && view.run.status === update.status;
      // Coalesce bursts of updates into one read of the run.
      if (!shown && !reloadTimer) reloadTimer = setTimeout(() => { reloadTimer = null; load(); }, 150);
    });
    events.addEventListener("failure", (event) => { notice(event.data); events.close(); events = null; });
  }

  for (const action of ["pause", "unpause", "resume", "cancel"]) {
    document.getElementById(action).addEventListener("click", () => act(action));
  }
  document.getElementById("earlier").addEventListener("click", () => {
    const total = view.timeline.total_items;
    const at = offset === null ? Math.max(0, total - TIMELINE_PAGE) : offset;
    offset = Math.max(0, at - TIMELINE_PAGE);
    loadTimeline().catch((error) => notice(error.message));
  });
  document.getElementById("later").addEventListener("click", () => {
    const total = view.timeline.total_items;
    const at = offset === null ? Math.max(0, total - TIMELINE_PAGE) : offset;
    offset = at + TIMELINE_PAGE >= total - TIMELINE_PAGE ? null : at + TIMELINE_PAGE;
    loadTimeline().catch((error) => notice(error.message));
  });

  // As on the runs page: no stream left open in the back/forward cache.
  window.addEventListener("pagehide", () => { if (events) { events.close(); events = null; } });
  window.addEventListener("pageshow", (event) => { if (event.persisted) load().then(follow); });

  load().then(follow);
})();
