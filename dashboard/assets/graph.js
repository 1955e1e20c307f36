// Draws a workflow's state graph as SVG: a layered layout (top to bottom, back edges of
// loops curved on the side), the states the run reached and the moves it made marked, its
// current state filled.
"use strict";

const cairnGraph = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const LAYER_GAP = 74;
  const NODE_GAP = 26;
  const NODE_H = 34;
  const CHAR_W = 7.2;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /**
   * graph: {states: [{name, kind, step}], edges: [{from, to}]}; run: {state, status};
   * path: {visited: {name: n}, moves: [[from, to, n]]}.
   */
  function draw(container, graph, run, path) {
    const states = graph.states.map((s, i) => ({ ...s, index: i }));
    const endIndex = states.length;
    states.push({ name: "End", kind: "end", step: null, index: endIndex });
    const edges = graph.edges.map((e) => ({ from: e.from, to: e.to === null ? endIndex : e.to }));

    // Back edges: those to a node on the depth-first stack (a loop going round).
    const out = states.map(() => []);
    edges.forEach((e, i) => out[e.from].push(i));
    const mark = states.map(() => 0); // 0 new, 1 on stack, 2 done
    const back = new Set();
    const visit = (n) => {
      mark[n] = 1;
      for (const i of out[n]) {
        const to = edges[i].to;
        if (mark[to] === 1) back.add(i);
        else if (mark[to] === 0) visit(to);
      }
      mark[n] = 2;
    };
    states.forEach((_, n) => { if (mark[n] === 0) visit(n); });

    // Layer = longest path from a source over forward edges.
    const layer = states.map(() => 0);
    const indegree = states.map(() => 0);
    edges.forEach((e, i) => { if (!back.has(i)) indegree[e.to] += 1; });
    const queue = states.map((_, n) => n).filter((n) => indegree[n] === 0);
    while (queue.length) {
      const n = queue.shift();
      for (const i of out[n]) {
        if (back.has(i)) continue;
        const to = edges[i].to;
        layer[to] = Math.max(layer[to], layer[n] + 1);
        if (--indegree[to] === 0) queue.push(to);
      }
    }
    const layers = [];
    states.forEach((s, n) => { (layers[layer[n]] = layers[layer[n]] || []).push(n); });

    // Order within a layer: by the mean position of the parents (one pass), then source order.
    const pos = states.map(() => 0);
    layers.forEach((nodes, l) => {
      if (l > 0) {
        const parents = (n) => edges.filter((e, i) => !back.has(i) && e.to === n).map((e) => pos[e.from]);
        const key = (n) => { const p = parents(n); return p.length ? p.reduce((a, b) => a + b, 0) / p.length : n; };
        nodes.sort((a, b) => key(a) - key(b) || a - b);
      }
      nodes.forEach((n, i) => { pos[n] = i; });
    });

    // Sizes and coordinates.
    // Names at 12px and "after step" at 10px, in a monospace font.
    const width = (s) => Math.max(70, s.name.length * CHAR_W, s.step ? (s.step.length + 6) * CHAR_W * 0.85 : 0) + 24;
    const rowWidth = (nodes) => nodes.reduce((w, n) => w + width(states[n]), 0) + NODE_GAP * (nodes.length - 1);
    const totalW = Math.max(...layers.map(rowWidth)) + 120;
    const xy = states.map(() => ({ x: 0, y: 0, w: 0 }));
    layers.forEach((nodes, l) => {
      let x = (totalW - 120 - rowWidth(nodes)) / 2 + 20;
      for (const n of nodes) {
        const w = width(states[n]);
        xy[n] = { x, y: 20 + l * LAYER_GAP, w };
        x += w + NODE_GAP;
      }
    });
    const totalH = 20 + layers.length * LAYER_GAP;

    // What the run went through.
    const visited = new Set(Object.keys(path.visited || {}));
    visited.add("Start");
    const finishedOk = run.status === "completed";
    if (finishedOk) visited.add("End");
    const moves = new Set((path.moves || []).map(([a, b]) => a + "\u0000" + b));
    // A transient state (join, loop head) counts as passed when a move crosses it.
    const stored = (s) => s.kind === "stored" || s.kind === "start" || s.kind === "end";
    const reachedVia = (n, seen = new Set()) => {
      // The stored states reachable from n through transient ones.
      const found = [];
      for (const i of out[n]) {
        const to = edges[i].to;
        if (stored(states[to])) found.push(states[to].name);
        else if (!seen.has(to)) { seen.add(to); found.push(...reachedVia(to, seen)); }
      }
      return found;
    };
    const taken = (from, to) => {
      const a = states[from];
      const b = states[to];
      if (!visited.has(a.name) && stored(a)) return false;
      if (stored(b)) {
        if (b.kind === "end") return finishedOk && visited.has(a.name);
        return visited.has(b.name);
      }
      return reachedVia(to).some((name) => visited.has(name));
    };
    const passed = states.map((s, n) => stored(s) ? visited.has(s.name) : edges.some((e) => e.to === n && taken(e.from, n)));

    let current = states.findIndex((s) => s.name === run.state);
    if (run.status === "completed") current = endIndex;

    const root = svg("svg", { width: totalW, height: totalH, viewBox: `0 0 ${totalW} ${totalH}`, role: "img", "aria-label": "state machine of " + graph.workflow });
    const defs = svg("defs");
    for (const [id, cls] of [["arrow", ""], ["arrow-taken", "taken"]]) {
      const marker = svg("marker", { id, class: cls, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }));
      defs.append(marker);
    }
    root.append(defs);

    edges.forEach((e, i) => {
      const a = xy[e.from];
      const b = xy[e.to];
      const isTaken = taken(e.from, e.to) && passed[e.from];
      let d;
      if (back.has(i) || e.from === e.to) {
        // Round the right-hand side, from a's right edge back up to b's right edge.
        const x1 = a.x + a.w;
        const y1 = a.y + NODE_H / 2;
        const x2 = b.x + b.w;
        const y2 = b.y + NODE_H / 2;
        const bulge = Math.max(x1, x2) + 36 + (i % 3) * 10;
        d = `M ${x1} ${y1} C ${bulge} ${y1}, ${bulge} ${y2}, ${x2 + 2} ${y2}`;
      } else {
        const x1 = a.x + a.w / 2;
        const y1 = a.y + NODE_H;
        const x2 = b.x + b.w / 2;
        const y2 = b.y - 2;
        const my = (y1 + y2) / 2;
        d = `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
      }
      root.append(svg("path", { d, class: "edge" + (isTaken ? " taken" : ""), "marker-end": `url(#${isTaken ? "arrow-taken" : "arrow"})` }));
    });

    states.forEach((s, n) => {
      const { x, y, w } = xy[n];
      const transient = s.kind === "join" || s.kind === "loop_head";
      const cls = ["node", transient ? "transient" : "", passed[n] ? "visited" : "", n === current ? "current" : "",
        n === current && run.status === "failed" ? "failed" : ""].filter(Boolean).join(" ");
      const g = svg("g", { class: cls, "data-state": s.name });
      const rx = s.kind === "start" || s.kind === "end" ? NODE_H / 2 : 6;
      g.append(svg("rect", { x, y, width: w, height: NODE_H, rx }));
      const title = transient ? (s.kind === "join" ? "join" : "loop") : s.name;
      if (s.step && !transient) {
        g.append(svg("text", { x: x + w / 2, y: y + 14, "text-anchor": "middle" }, title));
        g.append(svg("text", { x: x + w / 2, y: y + 27, "text-anchor": "middle", class: "sub" }, "after " + s.step));
      } else {
        g.append(svg("text", { x: x + w / 2, y: y + 21, "text-anchor": "middle" }, title));
      }
      g.append(svg("title", {}, s.name + (s.step ? " (after step " + s.step + ")" : "") + (path.visited && path.visited[s.name] ? " · reached " + path.visited[s.name] + "×" : "")));
      root.append(g);
    });
    container.replaceChildren(root);
  }

  return { draw };
})();
