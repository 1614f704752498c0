// app.js: the page's entry point (loaded as an ES module by index.html). Contract: the URL
// is the state (state.js); every user action pushes a new URL and load() renders that URL,
// and back/forward (popstate) render theirs, so any URL reproduces its view. Answers of
// superseded requests are dropped. After each search render the time from the API's answer
// to the rendered results is recorded in window.__newssearch (renderMs) and as the
// performance measure "newssearch:first-results".

import * as api from "./api.js";
import { parse, searchParams, toSearch, update } from "./state.js";
import { el, num } from "./dom.js";
import { bindSearch, clearMessages, showDegraded, showForm, showNoResults, showProblem } from "./search.js";
import { renderChips, renderDates, renderExport, renderFacets, renderTotals } from "./overview.js";
import { renderTimeline } from "./timeline.js";
import { renderPager, renderResults } from "./results.js";
import { renderArticle } from "./article.js";

const $ = (id) => document.getElementById(id);
let state = parse(location.search);
let seq = 0;
window.__newssearch = { renders: 0, renderMs: [] };

let focusKey = null;

function navigate(change) {
  // Re-rendering replaces the control a keyboard user just used: remember which it was.
  const active = document.activeElement;
  focusKey = active && active.dataset ? active.dataset.focusKey || null : null;
  state = update(state, change);
  history.pushState(null, "", toSearch(state));
  load();
}

const hooks = {
  articleHref: (id) => toSearch({ ...state, article: id }),
  openArticle: (id) => navigate({ article: id }),
  /** The result of this page with its explanation (the page asked again with explain=true). */
  explained: async (id) => {
    const { body } = await api.search(searchParams(state, { explain: true, facets: false, timeline: false }));
    const found = body.results.find((r) => r.article_id === id);
    if (!found) throw new Error("the result is no longer on this page");
    return found;
  },
  versions: (id) => api.versions(id),
  get backHref() { return toSearch({ ...state, article: "" }); },
  back: () => navigate({ article: "" }),
};

function show(view) {
  $("search-view").hidden = view !== "search";
  $("article-view").hidden = view !== "article";
  $("landing").hidden = view !== "landing";
}

function renderSearch(data) {
  show("search");
  const onChange = (change) => navigate(change);
  $("sort").value = state.sort;
  $("interval").value = state.interval;
  renderTotals($("totals"), data);
  renderChips($("chips"), state, onChange);
  renderResults($("results"), data, hooks);
  renderPager($("pager"), data, state, (page) => toSearch({ ...state, page }), (page) => navigate({ page }));
  renderTimeline($("timeline"), data.timeline, (from, to) => navigate({ from, to }));
  renderFacets($("facets"), data.facets, state, onChange);
  renderDates($("dates"), state, onChange);
  renderExport($("export"), state, data);
  restoreFocus();
  if (data.degraded.length) showDegraded(data.degraded);
  if (data.total === 0) showNoResults(state);
  else if (!data.results.length) {
    $("messages").append(el("p", { class: "message", role: "status", text: "This page is past the end of the results." }));
  }
}

/** Focus the re-rendered twin of the control used last (a facet box, a pager link), or the
 *  results heading when it is gone (a removed chip), so focus never falls back to the page. */
function restoreFocus() {
  if (!focusKey) return;
  if (focusKey.startsWith("pager:")) focusKey = "results"; // a new page is read from its top
  const twin = [...document.querySelectorAll("[data-focus-key]")].find((n) => n.dataset.focusKey === focusKey);
  (twin || $("results-h")).focus();
  focusKey = null;
}

function record(answeredAt) {
  const rendered = performance.now();
  performance.measure("newssearch:first-results", { start: answeredAt, end: rendered });
  const t = window.__newssearch;
  t.renders += 1;
  t.renderMs.push(rendered - answeredAt);
  requestAnimationFrame(() => setTimeout(() => { t.paintMs = performance.now() - answeredAt; }, 0));
}

async function loadSearch(mine) {
  const { body: data, answeredAt } = await api.search(searchParams(state));
  if (mine !== seq) return;
  document.title = `${state.q || "Everything"} – NewsSearch`;
  renderSearch(data);
  record(answeredAt);
}

/** Paragraph id -> highlights of the article's matching paragraphs in the current search. */
async function matchesFor(id) {
  if (!state.searched) return new Map();
  const { body } = await api.search(searchParams(state, { passages: 20, facets: false, timeline: false }));
  const hit = body.results.find((r) => r.article_id === id);
  return new Map((hit ? hit.passages : []).map((p) => [p.paragraph_id, p.highlights]));
}

async function loadArticle(mine) {
  const id = state.article;
  const [detail, similar, matches] = await Promise.all([
    api.article(id),
    api.similar(id, new URLSearchParams({ limit: "5" })).catch((exc) => exc),
    matchesFor(id).catch(() => new Map()),
  ]);
  const versions = typeof detail.versions === "number" ? await api.versions(id).catch(() => null) : null;
  if (mine !== seq) return;
  document.title = `${detail.title || detail.article_id} – NewsSearch`;
  show("article");
  renderArticle($("article-view"), { detail, similar, matches, versions, query: state.q }, hooks).focus();
}

async function landing(mine) {
  show("landing");
  document.title = "NewsSearch";
  const s = await api.stats();
  if (mine !== seq) return;
  $("landing-stats").textContent = `The index holds ${num(s.articles)} articles (${num(s.paragraphs)} ` +
    `paragraphs) in ${Object.keys(s.languages).sort().join(", ") || "no language yet"}.`;
}

async function load() {
  const mine = ++seq;
  document.body.dataset.busy = "true";
  showForm(state);
  clearMessages();
  try {
    if (state.article) await loadArticle(mine);
    else if (state.searched) await loadSearch(mine);
    else await landing(mine);
  } catch (exc) {
    if (mine !== seq) return;
    show("none");
    showProblem(exc, state.q);
  } finally {
    if (mine === seq) document.body.dataset.busy = "false";
  }
}

bindSearch(({ q, mode }) => navigate({ q, mode, searched: true }));
$("sort").addEventListener("change", (ev) => navigate({ sort: ev.target.value }));
$("interval").addEventListener("change", (ev) => navigate({ interval: ev.target.value }));
window.addEventListener("popstate", () => {
  state = parse(location.search);
  load();
});
load();
