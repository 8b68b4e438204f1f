/**
 * The dashboard's static files: its style sheet and chart script (kept here, shipped inside the
 * package), and Chart.js from its own npm package. Nothing is loaded from another site.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;background:#f5f7fb}
header{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;padding:.75rem 1.25rem;background:#1d2433;color:#fff}
header a{color:#cfe0ff}
.brand{font-weight:700}
main{max-width:1180px;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.75rem 0 .5rem}
section,.card{background:#fff;border:1px solid #dde3ee;border-radius:8px;padding:1rem;margin:0 0 1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr));gap:1rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eef1f6;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.warn{color:#9a5b00;background:#fff4e0;border:1px solid #f3d19c;border-radius:6px;padding:.5rem .75rem}
.bad{color:#a11a1a;font-weight:600}
.ok{color:#17703a}
.tag{display:inline-block;font-size:.78rem;padding:0 .45rem;border-radius:999px;background:#e8eefb;margin:0 .25rem .25rem 0}
.tag.critical{background:#fde2e2;color:#a11a1a}
.notes{border-left:3px solid #dde3ee;padding-left:.75rem;overflow-wrap:anywhere}
.notes pre{white-space:pre-wrap}
.chart{position:relative;height:280px}
code{font-size:.88rem;overflow-wrap:anywhere}
form.inline{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.25rem 0}
input,button,select{font:inherit;padding:.25rem .5rem}
.muted{color:#667085}
`;

const CHARTS = `
(function () {
  var el = document.getElementById("chart-data");
  if (!el || !window.Chart) return;
  var data = JSON.parse(el.textContent);
  var colors = ["#3867d6","#20bf6b","#f7b731","#eb3b5a","#8854d0","#0fb9b1","#fa8231","#4b6584"];
  Chart.defaults.maintainAspectRatio = false;
  data.charts.forEach(function (c) {
    var canvas = document.getElementById(c.id);
    if (!canvas) return;
    var area = c.type === "area";
    new Chart(canvas, {
      type: area ? "line" : c.type,
      data: {
        labels: c.labels,
        datasets: c.series.map(function (s, i) {
          var color = colors[i % colors.length];
          return { label: s.label, data: s.values, borderColor: color, backgroundColor: area ? color + "99" : color, fill: area ? (i === 0 ? "origin" : "-1") : false, tension: 0.25 };
        })
      },
      options: {
        animation: false,
        indexAxis: c.horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: area }, y: { stacked: area, beginAtZero: true } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  });
})();
`;

let chartJs: Promise<Buffer> | undefined;

/** The files under `/assets/`, by name: content type and body. */
export async function asset(name: string): Promise<{ type: string; body: Buffer | string } | undefined> {
  switch (name) {
    case "dashboard.css":
      return { type: "text/css; charset=utf-8", body: STYLE };
    case "dashboard.js":
      return { type: "text/javascript; charset=utf-8", body: CHARTS };
    case "chart.umd.min.js": {
      chartJs ??= readFile(join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js"));
      return { type: "text/javascript; charset=utf-8", body: await chartJs };
    }
    default:
      return undefined;
  }
}
