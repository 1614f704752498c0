// search.js: the search box, the mode toggle and the messages above the results.
// Contract: bindSearch(onSubmit) calls onSubmit({q, mode}) when the form is submitted
// (Enter in the box), and makes "/" focus the box; showForm(state) puts a state into the
// form; showProblem / showDegraded / showNoResults / clearMessages write #messages, as text.

import { el } from "./dom.js";

const $ = (id) => document.getElementById(id);

export function bindSearch(onSubmit) {
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const mode = document.querySelector("input[name=mode]:checked");
    onSubmit({ q: $("q").value, mode: mode ? mode.value : "hybrid" });
  });
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => $("search-form").requestSubmit());
  }
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      $("q").focus();
      $("q").select();
    }
  });
}

export function showForm(state) {
  $("q").value = state.q;
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.checked = radio.value === state.mode;
  }
}

export function clearMessages() {
  $("messages").replaceChildren();
}

/** A refused request: the problem's title and detail; where the detail names a position in
 *  the query ("... at position 7"), the query is shown with that character marked. */
export function showProblem(error, query) {
  const problem = error.problem || {};
  const box = el("div", { class: "message error", role: "alert", id: "problem" },
    el("strong", { text: problem.title || "Error" }), ": ",
    el("span", { class: "detail", text: problem.detail || error.message }));
  const at = /position (\d+)/.exec(problem.detail || "");
  if (at && query) {
    const i = Math.min(Number(at[1]), query.length);
    box.append(el("p", { class: "query-at" },
      el("code", {}, query.slice(0, i), el("mark", { class: "at", text: query.slice(i, i + 1) || " " }),
        query.slice(i + 1))));
  }
  if (problem.status === 400 && problem.type && problem.type.endsWith("query-syntax")) {
    box.append(el("p", { text: "See “Query syntax” under the search box." }));
  }
  $("messages").replaceChildren(box);
}

/** The answer came from fewer retrievers than asked (the lexical store is down). */
export function showDegraded(degraded) {
  const names = degraded.map((d) => (d === "lexical" ? "keyword (lexical) search" : d));
  $("messages").append(el("div", { class: "message warn", role: "status", id: "degraded" },
    el("strong", { text: "Partial results: " }),
    `${names.join(", ")} is unavailable, so these results come from the other retriever only; ` +
    "counts and ranking may differ from a full answer."));
}

export function showNoResults(state) {
  const hasFilters = ["source", "language", "section", "author"].some((f) => state[f].length) ||
    state.from || state.to;
  $("messages").append(el("div", { class: "message", role: "status", id: "no-results" },
    el("strong", { text: "No articles match" }),
    state.q ? ` “${state.q}”` : "",
    hasFilters ? " within these filters: remove a filter, or try " : ". Try ",
    "fewer or other words, or another mode."));
}
