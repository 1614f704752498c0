// article.js: the article view. Contract: renderArticle(box, view, hooks) replaces box's
// content with the whole article (view.detail: ArticleDetail) and its paragraphs, marking the
// ones that match the query (view.matches: Map paragraph_id -> highlight spans), its metadata,
// its other versions (view.versions: the /versions answer, or null where the index has no
// stories) and the similar articles (view.similar: SearchResponse, or an Error). hooks:
// articleHref(id), openArticle(id), backHref, back(). Stored fields go in as text only.

import { day, el, externalLink, highlighted, num, plural } from "./dom.js";

function appLink(hooks, id, text) {
  return el("a", { href: hooks.articleHref(id), text: text || id, on: { click: (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button) return;
    ev.preventDefault();
    hooks.openArticle(id);
  } } });
}

function metadata(d) {
  const rows = [["Source", d.source || "unknown"], ["Published", day(d.published_at)],
    ["Language", d.language || "unknown"]];
  if (d.section) rows.push(["Section", d.section]);
  if (d.authors && d.authors.length) rows.push(["Authors", d.authors.join(", ")]);
  rows.push(["Article id", d.article_id]);
  if (d.story) rows.push(["Story", d.story]);
  for (const [k, v] of Object.entries(d.extra || {})) {
    if (v !== null && typeof v !== "object") rows.push([k, String(v)]);
  }
  const dl = el("dl", { class: "metadata" });
  for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v }));
  if (d.url) dl.append(el("dt", { text: "URL" }), el("dd", {}, externalLink(d.url, d.url)));
  return dl;
}

function listOf(items, hooks, extra) {
  return el("ul", { class: "related" }, ...items.map((a) => el("li", { "data-article-id": a.article_id },
    appLink(hooks, a.article_id, a.title || "(untitled)"),
    el("span", { class: "meta", text: ` · ${[a.source, day(a.published_at), a.language, extra(a)]
      .filter(Boolean).join(" · ")}` }))));
}

export function renderArticle(box, view, hooks) {
  const d = view.detail;
  const heading = el("h2", { id: "article-title", tabindex: "-1", text: d.title || "(untitled)" });
  const marked = d.paragraphs.filter((p) => view.matches.has(p.paragraph_id)).length;
  const body = el("div", { class: "article-body" }, ...d.paragraphs.map((p) => {
    const spans = view.matches.get(p.paragraph_id);
    const para = el("p", { "data-paragraph-id": p.paragraph_id, class: spans ? "match" : null });
    if (spans) para.append(el("span", { class: "badge", text: "match" }), " ");
    para.append(highlighted(p.text, spans || []));
    return para;
  }));
  const parts = [
    el("p", {}, el("a", { href: hooks.backHref, class: "back", text: "← Back to the results",
      on: { click: (ev) => { ev.preventDefault(); hooks.back(); } } })),
    heading, metadata(d),
    el("p", { class: "hint", id: "match-summary", text: view.query
      ? `${plural(marked, "paragraph")} of ${num(d.paragraphs.length)} marked as matching “${view.query}”.`
      : `${plural(d.paragraphs.length, "paragraph")}.` }),
    body,
  ];
  if (view.versions) {
    const vs = view.versions.versions || [];
    parts.push(el("section", { id: "article-versions", "aria-labelledby": "versions-h" },
      el("h3", { id: "versions-h", text: `Other versions of this story (${num(vs.length)})` }),
      vs.length ? listOf(vs, hooks, () => "") : el("p", { text: "None: no other article tells this story." })));
  }
  const sim = view.similar;
  const simBox = el("section", { id: "similar", "aria-labelledby": "similar-h" },
    el("h3", { id: "similar-h", text: "Similar articles" }));
  if (sim instanceof Error) simBox.append(el("p", { class: "error", text: `Could not load: ${sim.message}` }));
  else if (!sim.results.length) {
    simBox.append(el("p", { text: `None at similarity ≥ ${sim.min_similarity ?? "the threshold"}.` }));
  } else {
    simBox.append(el("p", { class: "hint", text: `${plural(sim.total, "article")} at similarity ≥ ${sim.min_similarity}; the closest:` }),
      listOf(sim.results, hooks, (a) => (a.score === null ? "" : `similarity ${Number(a.score).toFixed(2)}`)));
  }
  parts.push(simBox);
  box.replaceChildren(...parts);
  return heading;
}
