// overview.js: the overview of the whole result set beside the results: totals, facet lists
// (multi-select checkboxes with counts), active filters as removable chips, the date-range
// input and the export links. Contract: each render* function replaces its container's
// content from an API answer and the state, and reports a user's change through
// onChange(stateChange); nothing here fetches or touches the URL.

import { FILTERS, exportHref } from "./state.js";
import { el, num, plural } from "./dom.js";

const LABELS = { source: "Source", language: "Language", section: "Section", author: "Author" };

/** "24 articles · 31 matching paragraphs"; with stories (fold): "20 stories · 24 articles". */
export function renderTotals(box, data) {
  const parts = [];
  if (typeof data.total_stories === "number" && typeof data.total_articles === "number") {
    parts.push(el("span", {}, el("strong", { id: "total", "data-total": data.total, text: num(data.total) }),
      data.total === data.total_stories ? " stories" : " results"),
    " · ", el("span", { id: "total-articles", text: plural(data.total_articles, "article") }));
  } else {
    parts.push(el("span", {}, el("strong", { id: "total", "data-total": data.total, text: num(data.total) }),
      data.total === 1 ? " article" : " articles"));
  }
  parts.push(" · ", el("span", { id: "total-paragraphs", "data-count": data.total_paragraphs, text: plural(data.total_paragraphs, "matching paragraph") }));
  box.replaceChildren(el("p", { class: "totals" }, ...parts),
    el("p", { class: "took" , text: `${data.mode} · ${Math.round(data.took_ms)} ms` }));
}

/** One fieldset of checkboxes per facet (source, language, section, author). */
export function renderFacets(box, facets, state, onChange) {
  box.replaceChildren(el("h2", { text: "Filter" }));
  for (const name of FILTERS) {
    const facet = (facets || []).find((f) => f.field === name);
    const selected = state[name];
    const values = facet ? [...facet.values] : [];
    for (const v of selected) {
      if (!values.some((x) => x.value.toLowerCase() === v.toLowerCase())) values.push({ value: v, count: 0 });
    }
    if (!values.length) continue;
    const set = el("fieldset", { class: "facet", id: `facet-${name}` }, el("legend", { text: LABELS[name] }));
    for (const { value, count } of values) {
      const checked = selected.some((v) => v.toLowerCase() === value.toLowerCase());
      const input = el("input", { type: "checkbox", value, checked, "data-focus-key": `facet:${name}:${value}` });
      input.addEventListener("change", () => {
        const next = input.checked ? [...selected, value]
          : selected.filter((v) => v.toLowerCase() !== value.toLowerCase());
        onChange({ [name]: next });
      });
      set.append(el("label", { class: "facet-value" }, input,
        el("span", { class: "value", text: value }), el("span", { class: "count", text: num(count) })));
    }
    if (facet && (facet.other || facet.missing)) {
      const rest = [];
      if (facet.other) rest.push(`${num(facet.other)} in other values`);
      if (facet.missing) rest.push(`${num(facet.missing)} without one`);
      set.append(el("p", { class: "facet-rest", text: rest.join(" · ") }));
    }
    box.append(set);
  }
}

/** The active filters as chips; each chip's button removes its filter. */
export function renderChips(box, state, onChange) {
  const chips = [];
  const chip = (label, change) => chips.push(el("li", { class: "chip" }, el("span", { text: label }),
    el("button", { type: "button", class: "chip-remove", "aria-label": `Remove filter ${label}`,
      "data-focus-key": "chip",
      text: "×", on: { click: () => onChange(change) } })));
  for (const name of FILTERS) {
    for (const value of state[name]) {
      chip(`${name}: ${value}`, { [name]: state[name].filter((v) => v !== value) });
    }
  }
  const range = state.from && state.to ? `${state.from} to ${state.to}`
    : state.from ? `from ${state.from}` : `until ${state.to}`;
  if (state.from || state.to) chip(`date: ${range}`, { from: "", to: "" });
  if (!chips.length) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  const clear = {};
  for (const name of FILTERS) clear[name] = [];
  chips.push(el("li", {}, el("button", { type: "button", class: "link", text: "Clear all filters",
    on: { click: () => onChange({ ...clear, from: "", to: "" }) } })));
  box.hidden = false;
  box.replaceChildren(el("ul", { "aria-label": "Active filters" }, ...chips));
}

/** The date-range input (two dates, both included). */
export function renderDates(form, state, onChange) {
  const from = el("input", { type: "date", id: "date-from", name: "from", value: state.from });
  const to = el("input", { type: "date", id: "date-to", name: "to", value: state.to });
  const submit = (ev) => {
    ev.preventDefault();
    onChange({ from: from.value, to: to.value });
  };
  form.onsubmit = submit;
  form.replaceChildren(el("h2", { text: "Dates" }),
    el("div", { class: "dates" },
      el("label", { for: "date-from" }, "From", from),
      el("label", { for: "date-to" }, "To", to),
      el("button", { type: "submit", text: "Apply dates" })));
}

/** Download links of the whole set: CSV and JSONL, one row per article or paragraph. */
export function renderExport(box, state, data) {
  const link = (format, level, label) => el("a", { class: "button", href: exportHref(state, format, level),
    download: "", "data-format": format, "data-level": level, text: label });
  box.replaceChildren(el("h2", { text: "Export" }),
    el("p", { class: "hint", text: `The complete set (${plural(data.total, "row")} per article, ` +
      `${num(data.total_paragraphs)} per paragraph) with its manifest as the first line.` }),
    el("div", { class: "exports" },
      link("csv", "article", "CSV · articles"), link("csv", "paragraph", "CSV · paragraphs"),
      link("jsonl", "article", "JSONL · articles"), link("jsonl", "paragraph", "JSONL · paragraphs")));
}
