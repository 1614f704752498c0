// results.js: the page of results, grouped by article, and the pager. Contract:
// renderResults(list, data, hooks) replaces the list with one <li> per ArticleResult (title
// linking to the article view, source, date, language, "+N versions" when the answer has
// `versions` > 0, passages with highlights, an explanation toggle); renderPager(nav, data,
// state, hrefFor, go) draws first/previous/numbers/next/last. hooks: articleHref(id),
// openArticle(id), explained(articleId) -> Promise<ArticleResult with explanation>,
// versions(articleId) -> Promise<versions answer>. Stored fields go in as text only.

import { PAGE_SIZE } from "./state.js";
import { day, el, externalLink, highlighted, num, plural } from "./dom.js";

const fmt = (v, digits = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));

function meta(r) {
  const bits = [r.source || "unknown source", day(r.published_at), r.language, r.section]
    .filter(Boolean).map((b) => el("span", { text: b }));
  if (r.authors && r.authors.length) bits.push(el("span", { text: r.authors.join(", ") }));
  if (r.url) bits.push(externalLink(r.url, "original"));
  return el("p", { class: "meta" }, ...bits.flatMap((b, i) => (i ? [" · ", b] : [b])));
}

/** The words of an explanation: why the article is in the set, then its numbers. */
export function explanationView(r) {
  const ex = r.explanation;
  if (!ex) return el("p", { text: "No explanation in this answer." });
  const why = [];
  if (ex.why.includes("lexical")) {
    why.push(ex.matched_terms.length ? `it contains ${ex.matched_terms.map((t) => `“${t}”`).join(", ")}`
      : "it matches the query's words");
  }
  if (ex.why.includes("semantic")) {
    why.push(`a paragraph is close in meaning to the query (similarity ${fmt(ex.best_similarity)} ` +
      `≥ threshold ${fmt(ex.threshold)})`);
  }
  const out = [el("p", { text: `In the set because ${why.join(" and ") || "it matches"}.` })];
  out.push(el("p", { text: ex.ranked
    ? `Score ${fmt(ex.score)}: paragraph scores fused by ${ex.fusion}, combined per article by ${ex.aggregate}.`
    : "Beyond every retriever's ranked candidates: it follows the scored articles, by words matched, then similarity." }));
  const rows = r.passages.filter((p) => p.explanation).map((p) => {
    const e = p.explanation;
    const c = ex.contributions.find((x) => x.paragraph_id === p.paragraph_id);
    return el("tr", {}, el("th", { scope: "row", text: `¶ ${p.position + 1}` }),
      el("td", { text: e.bm25_rank ? `#${e.bm25_rank} (${fmt(e.bm25_score, 2)})` : "–" }),
      el("td", { text: e.dense_rank ? `#${e.dense_rank} (${fmt(e.dense_score)})` : "–" }),
      el("td", { text: `${fmt(e.bm25_component)} + ${fmt(e.dense_component)} = ${fmt(e.fused_score)}` }),
      el("td", { text: c ? `× ${fmt(c.weight, 2)} = ${fmt(c.contribution)}` : "–" }));
  });
  if (rows.length) {
    out.push(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Score per paragraph" }, el("table", { class: "explain-table" },
      el("caption", { text: "Each shown paragraph: its rank and raw score per retriever, their weighted parts of the fused score, and its part in the article's score" }),
      el("thead", {}, el("tr", {}, ...["paragraph", "keyword rank (BM25)", "semantic rank (similarity)",
        "keyword + semantic = fused", "weight = part of score"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows))));
  }
  return el("div", {}, ...out);
}

function versionsView(answer, hooks) {
  const items = (answer.versions || []).map((v) => el("li", { "data-article-id": v.article_id },
    el("a", { href: hooks.articleHref(v.article_id), text: v.title || v.article_id,
      on: { click: (ev) => { ev.preventDefault(); hooks.openArticle(v.article_id); } } }),
    el("span", { class: "meta", text: ` · ${[v.source, day(v.published_at), v.language].filter(Boolean).join(" · ")}` })));
  return items.length ? el("ul", { class: "versions-list" }, ...items) : el("p", { text: "No other version." });
}

/** A toggle button whose panel is filled once, on first opening, by `load()`. */
function toggle(label, openLabel, id, load) {
  const panel = el("div", { class: "panel", id, hidden: true });
  const button = el("button", { type: "button", class: "toggle", "aria-expanded": "false",
    "aria-controls": id, text: label });
  let loaded = false;
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? openLabel : label;
    panel.hidden = !open;
    if (open && !loaded) {
      loaded = true;
      panel.replaceChildren(el("p", { class: "hint", text: "Loading…" }));
      try {
        panel.replaceChildren(await load());
      } catch (exc) {
        loaded = false;
        panel.replaceChildren(el("p", { class: "error", text: `Could not load: ${exc.message}` }));
      }
    }
  });
  return [button, panel];
}

export function renderResults(list, data, hooks) {
  list.replaceChildren(...data.results.map((r, i) => {
    const key = `r${data.offset + i}`;
    const title = el("a", { href: hooks.articleHref(r.article_id), class: "title",
      text: r.title || "(untitled)", on: { click: (ev) => {
        if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button) return;
        ev.preventDefault();
        hooks.openArticle(r.article_id);
      } } });
    const item = el("li", { class: "result", "data-article-id": r.article_id },
      el("h3", {}, el("span", { class: "rank", text: `${r.rank}. ` }), title), meta(r));
    // The toggles in one row, each one's panel below the row.
    const toggles = [];
    if (typeof r.versions === "number" && r.versions > 0) {
      toggles.push(toggle(`+${plural(r.versions, "version")}`, `− hide ${plural(r.versions, "version")}`,
        `${key}-versions`, async () => versionsView(await hooks.versions(r.article_id), hooks)));
    }
    toggles.push(toggle("Why this result?", "Hide explanation", `${key}-explain`,
      async () => explanationView(await hooks.explained(r.article_id))));
    for (const p of r.passages) {
      item.append(el("blockquote", { class: "passage", "data-paragraph-id": p.paragraph_id },
        highlighted(p.text, p.highlights)));
    }
    item.append(el("div", { class: "tools" }, ...toggles.map(([button]) => button)),
      ...toggles.map(([, panel]) => panel));
    return item;
  }));
}

export function renderPager(nav, data, state, hrefFor, go) {
  const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
  nav.replaceChildren();
  if (pages <= 1) return;
  const current = state.page;
  const link = (page, text, label, rel, number = false) => {
    if (page < 1 || page > pages || (!number && page === current)) return el("span", { class: "disabled", "aria-disabled": "true", text });
    if (page === current) return el("span", { class: "current", "aria-current": "page", text });
    return el("a", { href: hrefFor(page), "aria-label": label, rel, "data-page": page, text,
      "data-focus-key": `pager:${label}`,
      on: { click: (ev) => { ev.preventDefault(); go(page); } } });
  };
  const numbers = [];
  for (let p = Math.max(1, current - 2); p <= Math.min(pages, current + 2); p++) {
    numbers.push(link(p, String(p), `Page ${p}`, undefined, true));
  }
  nav.append(link(1, "« First", "First page"), link(current - 1, "‹ Previous", "Previous page", "prev"),
    ...numbers, link(current + 1, "Next ›", "Next page", "next"), link(pages, "Last »", "Last page"),
    el("span", { class: "page-of", text: `page ${num(current)} of ${num(pages)}` }));
}
