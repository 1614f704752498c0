// timeline.js: the result set's timeline as an SVG chart drawn here (no library): bars are
// the articles of the set per interval, the line their share of every indexed article in that
// interval (normalised attention, `ratio`). Contract: renderTimeline(box, timeline, onRange)
// replaces box's content; dragging across the chart or clicking a bar calls
// onRange(fromDay, toDay) with ISO days (both included); a table of the same numbers, each
// row with a filter button, is the keyboard's way to the same filter.

import { el, svg, num } from "./dom.js";

const W = 960, H = 170, PAD = { left: 40, right: 48, top: 12, bottom: 26 };

/** The last day of a bucket starting at `start` (ISO day) for an interval. */
export function bucketEnd(start, interval) {
  const d = new Date(start + "T00:00:00Z");
  if (interval === "day") d.setUTCDate(d.getUTCDate() + 1);
  else if (interval === "week") d.setUTCDate(d.getUTCDate() + 7);
  else if (interval === "month") d.setUTCMonth(d.getUTCMonth() + 1);
  else d.setUTCFullYear(d.getUTCFullYear() + 1);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

function label(start, interval) {
  if (interval === "month") return start.slice(0, 7);
  if (interval === "year") return start.slice(0, 4);
  return start;
}

const pct = (r) => `${(r * 100).toFixed(r >= 0.1 ? 0 : 1)}%`;

export function renderTimeline(box, timeline, onRange) {
  box.replaceChildren();
  if (!timeline || !timeline.buckets.length) {
    box.append(el("p", { class: "hint", text: timeline && timeline.undated
      ? `No dated article in this set (${num(timeline.undated)} undated).` : "No dated article in this set." }));
    return;
  }
  const { buckets, interval } = timeline;
  const n = buckets.length;
  const maxCount = Math.max(1, ...buckets.map((b) => b.count));
  const maxRatio = Math.max(1e-9, ...buckets.map((b) => b.ratio));
  const innerW = W - PAD.left - PAD.right, innerH = H - PAD.top - PAD.bottom;
  const bw = innerW / n;
  const x = (i) => PAD.left + i * bw;
  const yCount = (c) => PAD.top + innerH * (1 - c / maxCount);
  const yRatio = (r) => PAD.top + innerH * (1 - r / maxRatio);
  const sum = buckets.reduce((s, b) => s + b.count, 0);

  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", class: "timeline-chart",
    role: "img", "aria-label": `Timeline: ${num(sum)} dated articles in ${n} ${interval}s from ` +
      `${buckets[0].start} to ${bucketEnd(buckets[n - 1].start, interval)}` });
  const bars = svg("g", { class: "bars" });
  buckets.forEach((b, i) => {
    const y = yCount(b.count);
    bars.append(svg("rect", { x: x(i) + bw * 0.1, y, width: Math.max(1, bw * 0.8),
      height: PAD.top + innerH - y, class: "bar", "data-index": i, "data-count": b.count },
      svg("title", { text: `${label(b.start, interval)}: ${num(b.count)} articles, ${pct(b.ratio)} of the index` })));
  });
  const line = buckets.map((b, i) => `${i ? "L" : "M"}${(x(i) + bw / 2).toFixed(1)},${yRatio(b.ratio).toFixed(1)}`);
  const axis = (x1, y1, x2, y2) => svg("line", { x1, y1, x2, y2, class: "axis" });
  const text = (tx, ty, s, anchor) => svg("text", { x: tx, y: ty, "text-anchor": anchor, class: "tick", text: s });
  const base = PAD.top + innerH;
  chart.append(
    axis(PAD.left, base, W - PAD.right, base),
    text(PAD.left - 4, PAD.top + 8, num(maxCount), "end"), text(PAD.left - 4, base, "0", "end"),
    text(W - PAD.right + 4, PAD.top + 8, pct(maxRatio), "start"),
    bars,
    svg("path", { d: line.join(" "), class: "ratio-line" }),
  );
  // Every bucket's label where they fit, else every k-th.
  const every = Math.ceil(n / 12);
  buckets.forEach((b, i) => {
    if (i % every === 0) chart.append(text(x(i) + bw / 2, H - 6, label(b.start, interval), "middle"));
  });
  const brush = svg("rect", { x: 0, y: PAD.top, width: 0, height: innerH, class: "brush", visibility: "hidden" });
  chart.append(brush);

  // Brushing: pointer down on a bucket, drag, release: the range of buckets touched.
  const bucketAt = (ev) => {
    const rect = chart.getBoundingClientRect();
    const vx = ((ev.clientX - rect.left) / rect.width) * W;
    return Math.min(n - 1, Math.max(0, Math.floor((vx - PAD.left) / bw)));
  };
  let anchor = null;
  const show = (a, b) => {
    const lo = Math.min(a, b), hi = Math.max(a, b);
    brush.setAttribute("x", x(lo));
    brush.setAttribute("width", (hi - lo + 1) * bw);
    brush.setAttribute("visibility", "visible");
  };
  chart.addEventListener("pointerdown", (ev) => {
    anchor = bucketAt(ev);
    chart.setPointerCapture?.(ev.pointerId);
    show(anchor, anchor);
  });
  chart.addEventListener("pointermove", (ev) => { if (anchor !== null) show(anchor, bucketAt(ev)); });
  chart.addEventListener("pointerup", (ev) => {
    if (anchor === null) return;
    const end = bucketAt(ev), lo = Math.min(anchor, end), hi = Math.max(anchor, end);
    anchor = null;
    onRange(buckets[lo].start, bucketEnd(buckets[hi].start, interval));
  });

  const rows = buckets.map((b) => el("tr", {},
    el("th", { scope: "row", text: label(b.start, interval) }), el("td", { text: num(b.count) }),
    el("td", { text: pct(b.ratio) }),
    el("td", {}, el("button", { type: "button", class: "link", text: "Filter", "data-focus-key": "timeline-filter",
      "aria-label": `Filter to ${label(b.start, interval)}`,
      on: { click: () => onRange(b.start, bucketEnd(b.start, interval)) } }))));
  box.append(chart,
    el("p", { class: "legend" }, el("span", { class: "key key-bar", "aria-hidden": "true" }), " articles per ",
      interval, " (left axis)  ", el("span", { class: "key key-line", "aria-hidden": "true" }),
      " share of all indexed articles (right axis)",
      timeline.undated ? ` · ${num(timeline.undated)} undated not shown` : ""),
    el("details", { class: "timeline-table" }, el("summary", { text: "The timeline as a table" }),
      el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Timeline table" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: interval }),
          el("th", { scope: "col", text: "articles" }), el("th", { scope: "col", text: "share" }),
          el("td", {}))),
        el("tbody", {}, ...rows)))));
}
