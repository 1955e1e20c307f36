// The runs table: counts per status, filters, cursor paging, a Cancel button per
// unfinished run, and live updates over server-sent events.
"use strict";

(() => {
  const { api, el, age, badge, finished, notice, live } = cairn;
  const PAGE = 50;
  const form = document.getElementById("filters");
  const tbody = document.querySelector("#runs tbody");
  // Cursors of the pages seen, to go back to the first; `cursor` is where this page begins.
  let cursor = null;
  let next = null;
  let pageNumber = 1;
  let events = null;
  let lastTotal = null;

  function query() {
    const params = new URLSearchParams();
    const data = new FormData(form);
    if (data.get("status")) params.set("status", data.get("status"));
    if (data.get("workflow")) params.set("workflow", data.get("workflow"));
    if (data.get("created")) params.set("created_since", String(Date.now() - Number(data.get("created"))));
    params.set("limit", String(PAGE));
    if (cursor) params.set("after", cursor);
    return params;
  }

  function row(run) {
    const progress = run.progress
      ? el("span", {}, el("span", { class: "progress" }, progressBar(run.progress)),
           el("span", { class: "muted" }, run.progress[0] + "/" + run.progress[1] + " · " + run.transitions + " tr."))
      : el("span", { class: "muted" }, run.transitions + " transitions");
    const action = finished(run.status) || run.status === "corrupt"
      ? ""
      : el("button", { type: "button", class: "danger cancel", "data-run": run.id, onclick: () => cancel(run.id) }, "Cancel");
    return el("tr", { "data-run": run.id, "data-status": run.status },
      el("td", {}, el("a", { href: "/runs/" + run.id }, "#" + run.id)),
      el("td", { class: "status" }, badge(run.status)),
      el("td", {}, run.workflow),
      el("td", { class: "state" }, run.state),
      el("td", {}, progress),
      el("td", { class: "muted", title: new Date(run.created_at_ms).toLocaleString() }, age(run.created_at_ms)),
      el("td", { class: "actions" }, action));
  }

  function progressBar([at, of]) {
    const bar = el("i");
    bar.style.width = (of ? Math.round((100 * at) / of) : 0) + "%";
    return bar;
  }

  async function cancel(id) {
    try {
      const changed = await api("/api/runs/" + id + "/cancel", { method: "POST" });
      replaceRow(changed.run);
      notice("Run #" + id + " cancelled.", "info");
    } catch (error) {
      notice("Cancel #" + id + ": " + error.message);
    }
  }

  function replaceRow(status) {
    const old = tbody.querySelector('tr[data-run="' + status.id + '"]');
    if (!old) return;
    // The progress among the graph's states came with the page; a status event has none.
    const progress = JSON.parse(old.dataset.progress || "null");
    const fresh = row(Object.assign({}, status, { progress }));
    fresh.dataset.progress = old.dataset.progress || "null";
    old.replaceWith(fresh);
  }

  async function load() {
    try {
      const page = await api("/api/runs?" + query());
      tbody.replaceChildren(...page.runs.map((run) => {
        const tr = row(run);
        tr.dataset.progress = JSON.stringify(run.progress);
        return tr;
      }));
      document.getElementById("empty").hidden = page.runs.length > 0;
      next = page.next;
      document.getElementById("next").disabled = !next;
      document.getElementById("first").disabled = !cursor;
      document.getElementById("page-label").textContent = "page " + pageNumber;
      follow(page.runs.map((run) => run.id));
    } catch (error) {
      notice(error.message);
    }
  }

  function renderCounts(counts) {
    const box = document.getElementById("counts");
    const selected = new FormData(form).get("status");
    const tile = (label, value, status) => el("div", {
      class: "count" + (selected === status ? " active" : ""),
      "data-status": status,
      onclick: () => { form.status.value = status; restart(); },
    }, el("b", {}, value.toLocaleString()), el("span", {}, label));
    const tiles = [tile("all runs", counts.total, "")];
    for (const [status, n] of Object.entries(counts.by_status)) {
      if (n > 0 || ["running", "waiting", "failed"].includes(status)) tiles.push(tile(status, n, status));
    }
    box.replaceChildren(...tiles);
  }

  /** Follows the runs shown, and the counts, over one event stream. */
  function follow(ids) {
    if (events) events.close();
    events = new EventSource("/api/events?runs=" + ids.join(","));
    events.onopen = () => live(true);
    events.onerror = () => live(false);
    events.addEventListener("counts", (event) => {
      const counts = JSON.parse(event.data);
      renderCounts(counts);
      // New runs (or purged ones) change the total: the first page shows them.
      if (lastTotal !== null && counts.total !== lastTotal && !cursor) load();
      lastTotal = counts.total;
    });
    events.addEventListener("run", (event) => replaceRow(JSON.parse(event.data)));
  }

  function restart() {
    cursor = null;
    pageNumber = 1;
    load();
  }

  // A page kept in the back/forward cache would keep its stream open, and a browser allows
  // six connections per host: close it on leaving, open it again on coming back.
  window.addEventListener("pagehide", () => { if (events) { events.close(); events = null; } });
  window.addEventListener("pageshow", (event) => { if (event.persisted) load(); });

  form.addEventListener("change", restart);
  document.getElementById("next").addEventListener("click", () => {
    if (!next) return;
    cursor = next;
    pageNumber += 1;
    load();
  });
  document.getElementById("first").addEventListener("click", restart);

  api("/api/workflows").then((workflows) => {
    for (const w of workflows) form.workflow.append(el("option", {}, w.name));
  }).catch((error) => notice(error.message));
  api("/api/counts").then(renderCounts).catch((error) => notice(error.message));
  load();
})();
