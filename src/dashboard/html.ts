/** HTML building blocks of the dashboard: escaping, sanitised Markdown, number formats, the page frame. */
import { marked } from "marked";
import sanitizeHtml from "sanitize-html";

/** Escapes text for HTML content and attribute values. */
export function esc(text: string | number): string {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** Release notes (Markdown) as HTML with only harmless tags: no scripts, styles, frames or event handlers. */
export function markdownToSafeHtml(markdown: string): string {
  const html = marked.parse(markdown, { async: false, gfm: true });
  return sanitizeHtml(html, {
    allowedTags: sanitizeHtml.defaults.allowedTags.filter((t) => t !== "img"),
    allowedAttributes: { a: ["href", "title"], code: ["class"] },
    allowedSchemes: ["http", "https", "mailto"],
    transformTags: { a: sanitizeHtml.simpleTransform("a", { rel: "noopener noreferrer nofollow" }) },
  });
}

/** `1234567` → `1,234,567`. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Bytes in the unit a person reads best (1000-based), e.g. `12.3 MB`. */
export function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A share (0–1) as a whole percentage, e.g. `87 %`. */
export function percent(share: number): string {
  return `${Math.round(share * 1000) / 10} %`;
}

/** A full page: the frame, navigation, and `body`. `data` goes to the page's charts as JSON. */
export function page(title: string, nav: readonly [string, string][], body: string, data?: unknown): string {
  const links = nav.map(([href, label]) => `<a href="${esc(href)}">${esc(label)}</a>`).join(" › ");
  const json =
    data === undefined
      ? ""
      : `<script type="application/json" id="chart-data">${JSON.stringify(data).replaceAll("<", "\\u003c")}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Updraft</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header><span class="brand">Updraft</span><nav>${links}</nav></header>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
${json}${data === undefined ? "" : '<script src="/assets/chart.umd.min.js"></script><script src="/assets/dashboard.js"></script>'}
</body>
</html>
`;
}
