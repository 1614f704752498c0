// dom.js: the only way the UI makes elements. Contract: data goes in as text (text nodes,
// textContent, attribute values), never as markup: nothing here or in any module parses HTML.
// Links to stored URLs are made only for absolute http(s) URLs (safeHref).

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

/** An HTML element: el("a", {href, class, text, on: {click}}, ...children). Strings become
 *  text nodes. */
export function el(tag, props, ...children) {
  return fill(document.createElement(tag), props, children);
}

/** An SVG element, same calling convention. */
export function svg(tag, props, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), props, children);
}

/** `url` if it is an absolute http(s) URL, else null (javascript:, data:, relative ...). */
export function safeHref(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A link to a stored URL that leaves the site, or plain text when the URL is not http(s). */
export function externalLink(url, text) {
  const href = safeHref(url);
  if (!href) return el("span", { class: "url-text", text });
  return el("a", { href, rel: "noopener noreferrer nofollow", target: "_blank", text });
}

/** `text` with the [start, end) spans wrapped in <mark> (overlapping spans are skipped). */
export function highlighted(text, spans) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const [start, end] of [...(spans || [])].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start) continue;
    frag.append(text.slice(at, start), el("mark", { text: text.slice(start, end) }));
    at = end;
  }
  frag.append(text.slice(at));
  return frag;
}

/** "2025-10-15" for an ISO timestamp, "undated" for none. */
export function day(iso) {
  return iso ? String(iso).slice(0, 10) : "undated";
}

/** A number with thousands separators. */
export function num(n) {
  return Number(n).toLocaleString("en");
}

/** "1 version" / "3 versions". */
export function plural(n, word) {
  return `${num(n)} ${word}${n === 1 ? "" : "s"}`;
}
