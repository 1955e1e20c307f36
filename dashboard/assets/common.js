// What both pages share: the API call (with the CSRF token on changes), element building
// (text only, never HTML from run data), formatting of times and durations.
"use strict";

const cairn = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  /** Calls the API; resolves with the JSON body, rejects with the server's error message. */
  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { Accept: "application/json" } };
    if (init.method !== "GET") {
      init.headers["X-Cairn-Csrf"] = csrf;
      if (options.body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(options.body);
      }
    }
    const response = await fetch(path, init);
    let body = null;
    try { body = await response.json(); } catch (_) { /* no JSON body */ }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : response.status + " " + response.statusText;
      throw new Error(message);
    }
    return body;
  }

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  }

  function duration(ms) {
    if (ms < 1) return "<1 ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    const m = s / 60;
    if (m < 60) return Math.floor(m) + " min " + Math.round(s % 60) + " s";
    const h = m / 60;
    if (h < 48) return Math.floor(h) + " h " + Math.round(m % 60) + " min";
    return Math.floor(h / 24) + " d " + Math.round(h % 24) + " h";
  }

  function age(ms) {
    if (!ms) return "";
    const s = (Date.now() - ms) / 1000;
    if (s < 1) return "just now";
    if (s < 60) return Math.floor(s) + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 48 * 3600) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  function time(ms) {
    return ms ? new Date(ms).toLocaleString() : "";
  }

  function badge(status) {
    return el("span", { class: "badge " + status }, status);
  }

  const finished = (status) => ["completed", "failed", "cancelled"].includes(status);

  function notice(message, kind) {
    const box = document.getElementById("notice");
    if (!message) { box.hidden = true; return; }
    box.className = "notice" + (kind ? " " + kind : "");
    box.textContent = message;
    box.hidden = false;
  }

  function live(on) {
    const mark = document.getElementById("live");
    mark.classList.toggle("on", on);
    mark.textContent = on ? "live" : "reconnecting…";
  }

  return { api, el, duration, age, time, badge, finished, notice, live };
})();
