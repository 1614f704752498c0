// state.js: the UI's whole state lives in the URL's query string, so reload, sharing a link
// and back/forward restore it. Contract: parse(search) -> a state object with every field set
// (unknown or invalid values fall back to defaults); toSearch(state) -> the canonical "?..."
// (defaults left out); searchParams / exportHref -> the API's query strings for that state.
// Pure functions: no DOM, no network.

export const FILTERS = ["source", "language", "section", "author"];
export const MODES = ["hybrid", "bm25", "dense"];
export const SORTS = ["relevance", "date_desc", "date_asc"];
export const INTERVALS = ["auto", "day", "week", "month", "year"];
export const PAGE_SIZE = 10;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The state of a query string: {q, searched, mode, sort, interval, from, to, page, article,
 *  source[], language[], section[], author[]}. `searched` is false on the bare start page. */
export function parse(search) {
  const p = new URLSearchParams(search);
  const pick = (name, allowed) => (allowed.includes(p.get(name)) ? p.get(name) : allowed[0]);
  const date = (name) => (DATE.test(p.get(name) || "") ? p.get(name) : "");
  const state = {
    q: p.get("q") ?? "",
    searched: p.has("q"),
    mode: pick("mode", MODES),
    sort: pick("sort", SORTS),
    interval: pick("interval", INTERVALS),
    from: date("from"),
    to: date("to"),
    page: Math.max(1, parseInt(p.get("page") || "1", 10) || 1),
    article: p.get("article") || "",
  };
  for (const f of FILTERS) state[f] = p.getAll(f).filter((v) => v !== "");
  return state;
}

/** The canonical query string of a state ("?q=..."; defaults left out). */
export function toSearch(state) {
  const p = new URLSearchParams();
  if (state.searched || state.q) p.set("q", state.q);
  if (state.mode !== "hybrid") p.set("mode", state.mode);
  if (state.sort !== "relevance") p.set("sort", state.sort);
  if (state.interval !== "auto") p.set("interval", state.interval);
  for (const f of FILTERS) for (const v of state[f]) p.append(f, v);
  if (state.from) p.set("from", state.from);
  if (state.to) p.set("to", state.to);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.article) p.set("article", state.article);
  const s = p.toString();
  return s ? "?" + s : location.pathname;
}

/** The set's definition (query, mode, filters, dates, sort) as API parameters. */
function setParams(state) {
  const p = new URLSearchParams({ q: state.q, mode: state.mode, sort: state.sort });
  for (const f of FILTERS) for (const v of state[f]) p.append(f, v);
  // Dates are whole days in UTC, both ends included.
  if (state.from) p.set("date_from", `${state.from}T00:00:00Z`);
  if (state.to) p.set("date_to", `${state.to}T23:59:59Z`);
  return p;
}

/** GET /search parameters for the state's page, with facets and timeline. */
export function searchParams(state, extra = {}) {
  const p = setParams(state);
  p.set("limit", String(PAGE_SIZE));
  p.set("offset", String((state.page - 1) * PAGE_SIZE));
  p.set("facets", "true");
  p.set("timeline", "true");
  p.set("interval", state.interval);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  return p;
}

/** The /export link of the state's whole set. */
export function exportHref(state, format, level) {
  const p = setParams(state);
  p.set("format", format);
  p.set("level", level);
  return "/export?" + p.toString();
}

/** A copy of `state` with `change` applied; any change but a page or view change returns
 *  to page 1 (a new set starts at its beginning). */
export function update(state, change) {
  const next = { ...state, ...change };
  if (!("page" in change) && !("article" in change)) next.page = 1;
  if (!("article" in change)) next.article = "";
  return next;
}
