/** The dashboard's pages, rendered on the server from the repository, the logs and the reports. */
import { cliCommandOf, type DashboardAction } from "./actions.js";
import type { AdoptionView, VersionSeries } from "./adoption.js";
import { bytes, count, esc, markdownToSafeHtml, page, percent } from "./html.js";
import type { AppView, ChannelView, ReleaseView } from "./model.js";

/** What every page needs to know about the dashboard. */
export interface PageContext {
  /** True when actions can be taken (the keys are reachable). */
  actions: boolean;
  /** The token forms carry, so that another site cannot submit them. */
  formToken: string;
}

const appHref = (app: string) => `/apps/${encodeURIComponent(app)}`;

/** The list of apps. */
export function appsPage(apps: readonly AppView[]): string {
  const rows = apps
    .map((a) => {
      const latest = a.releases[0];
      const warnings = a.expiry.filter((e) => e.warning).map((e) => e.role);
      return `<tr><td><a href="${appHref(a.name)}">${esc(a.name)}</a></td><td>${esc(a.channels.map((c) => `${c.name} ${c.version}`).join(", "))}</td>
<td class="num">${count(a.releases.length)}</td><td>${latest ? esc(latest.version) : "—"}</td>
<td>${warnings.length ? `<span class="bad">expiring: ${esc(warnings.join(", "))}</span>` : '<span class="ok">ok</span>'}</td></tr>`;
    })
    .join("\n");
  const body =
    apps.length === 0
      ? "<section><p>No apps in this repository yet: run <code>updraft init</code>.</p></section>"
      : `<section class="scroll"><table id="apps"><thead><tr><th>App</th><th>Channels</th><th class="num">Releases</th><th>Newest</th><th>Signed metadata</th></tr></thead><tbody>
${rows}</tbody></table></section>`;
  return page("Apps", [["/", "Apps"]], body);
}

function rolloutText(c: ChannelView): string {
  if (c.rollout === undefined) return '<span class="muted">not set</span>';
  if (c.rollout.halted) return '<span class="bad">halted</span>';
  return `${count(c.rollout.percent)} %`;
}

function actionForms(app: string, c: ChannelView, ctx: PageContext): string {
  if (!ctx.actions) return "";
  const hidden = (kind: string) =>
    `<input type="hidden" name="kind" value="${kind}"><input type="hidden" name="channel" value="${esc(c.name)}"><input type="hidden" name="version" value="${esc(c.version)}"><input type="hidden" name="token" value="${esc(ctx.formToken)}">`;
  const action = `${appHref(app)}/actions`;
  return `<form class="inline" method="post" action="${action}">${hidden("rollout")}<label>Rollout <input name="percent" type="number" min="0" max="100" size="4" value="${c.rollout?.percent ?? 100}"> %</label><button>Change…</button></form>
<form class="inline" method="post" action="${action}">${hidden(c.rollout?.halted ? "resume" : "halt")}<button>${c.rollout?.halted ? "Resume…" : "Halt…"}</button></form>
<form class="inline" method="post" action="${action}">${hidden("promote")}<label>Promote to <input name="to" size="8" required></label><button>Promote…</button></form>
<form class="inline" method="post" action="${action}">${hidden("yank")}<label>Yank, reason <input name="reason" size="14" required></label><button>Yank…</button></form>`;
}

function channelsSection(a: AppView, ctx: PageContext): string {
  const rows = a.channels
    .map(
      (
        c,
      ) => `<tr data-channel="${esc(c.name)}"><td>${esc(c.name)}</td><td>${esc(c.version)}</td><td class="rollout">${rolloutText(c)}</td>
<td>${c.critical ? '<span class="tag critical">critical</span>' : "—"}</td><td>${c.minimumVersion ? esc(c.minimumVersion) : "—"}</td>
<td>${c.yanked.length ? esc(c.yanked.map((y) => (y.reason ? `${y.version} (${y.reason})` : y.version)).join(", ")) : "—"}</td>
${ctx.actions ? `<td>${actionForms(a.name, c, ctx)}</td>` : ""}</tr>`,
    )
    .join("\n");
  return `<h2>Channels</h2><section class="scroll"><table id="channels"><thead><tr><th>Channel</th><th>Version</th><th>Rollout</th><th>Critical</th><th>Minimum version</th><th>Yanked</th>${ctx.actions ? "<th>Actions</th>" : ""}</tr></thead><tbody>
${rows}</tbody></table></section>`;
}

function releaseCard(r: ReleaseView, health: AdoptionView["health"][number] | undefined): string {
  if (r.error !== undefined)
    return `<div class="card" data-version="${esc(r.version)}"><h3>${esc(r.version)}</h3><p class="bad">Unreadable manifest: ${esc(r.error)}</p></div>`;
  const deltas = r.deltas.length
    ? `<table class="deltas"><thead><tr><th>Delta from</th><th>Kind</th><th class="num">Size</th><th class="num">Saved</th></tr></thead><tbody>${r.deltas
        .map(
          (d) =>
            `<tr><td>${esc(d.from)}</td><td>${esc(d.kind)}</td><td class="num" data-bytes="${d.size}">${bytes(d.size)}</td><td class="num">${percent(d.saved)}</td></tr>`,
        )
        .join("")}</tbody></table>`
    : '<p class="muted">No deltas.</p>';
  const tags = [
    ...r.channels.map((c) => `<span class="tag">${esc(c)}</span>`),
    r.critical ? '<span class="tag critical">critical</span>' : "",
    r.minimumVersion ? `<span class="tag">minimum ${esc(r.minimumVersion)}</span>` : "",
  ].join("");
  const healthLine =
    health === undefined
      ? ""
      : `<p class="health">Reports: ${count(health.installs)} installs, failure rate <span class="${health.failureRate > 0.02 ? "bad" : "ok"}">${percent(health.failureRate)}</span></p>`;
  return `<div class="card release" data-version="${esc(r.version)}"><h3>${esc(r.version)} ${tags}</h3>
<p>Published ${esc(r.releasedAt)} · platforms ${esc(r.platforms.join(", "))} · full <span class="full-size" data-bytes="${r.fullSize}">${bytes(r.fullSize)}</span></p>
${healthLine}${deltas}
${r.notes ? `<div class="notes">${markdownToSafeHtml(r.notes)}</div>` : ""}</div>`;
}

/** One app: metadata expiry, channels, releases. */
export function appPage(a: AppView, adoption: AdoptionView, ctx: PageContext): string {
  const expiring = a.expiry.filter((e) => e.warning);
  const expiry = `<h2>Signed metadata</h2><section class="scroll">${
    expiring.length
      ? `<p class="warn">${esc(expiring.map((e) => `${e.role} expires ${e.expires}${e.daysLeft < 0 ? " (expired)" : ` in ${e.daysLeft} days`}`).join("; "))}: run <code>updraft refresh-timestamp</code>.</p>`
      : ""
  }<table id="expiry"><thead><tr><th>Role</th><th>Expires</th><th class="num">Days left</th></tr></thead><tbody>${a.expiry
    .map(
      (e) =>
        `<tr><td>${e.role}</td><td>${esc(e.expires)}</td><td class="num ${e.warning ? "bad" : ""}">${count(e.daysLeft)}</td></tr>`,
    )
    .join("")}</tbody></table></section>`;
  const releases = `<h2>Releases</h2><div class="grid">${a.releases
    .map((r) =>
      releaseCard(
        r,
        adoption.health.find((h) => h.version === r.version),
      ),
    )
    .join("\n")}</div>`;
  return page(
    a.name,
    [
      ["/", "Apps"],
      [appHref(a.name), a.name],
      [`${appHref(a.name)}/adoption`, "Adoption"],
    ],
    `${channelsSection(a, ctx)}${releases}${expiry}`,
  );
}

interface ChartSpec {
  id: string;
  type: "area" | "bar" | "line";
  horizontal?: boolean;
  labels: string[];
  series: { label: string; values: number[] }[];
}

function seriesChart(id: string, s: VersionSeries): ChartSpec {
  return { id, type: "area", labels: s.days, series: s.versions.map((v) => ({ label: v.version, values: v.counts })) };
}

function seriesTable(id: string, s: VersionSeries, what: string): string {
  if (s.versions.length === 0) return `<p class="muted">No ${what} yet.</p>`;
  return `<table id="${id}"><thead><tr><th>Version</th><th class="num">${esc(what)}</th></tr></thead><tbody>${s.versions
    .map((v) => `<tr><td>${esc(v.version)}</td><td class="num">${count(v.total)}</td></tr>`)
    .join("")}</tbody></table>`;
}

/** Adoption of one app: charts with their numbers. */
export function adoptionPage(a: AdoptionView): string {
  const totalServed = a.bytes.reduce((s, d) => s + d.served, 0);
  const totalSaved = a.bytes.reduce((s, d) => s + d.savedByDeltas, 0);
  const charts: ChartSpec[] = [
    seriesChart("chart-downloads", a.downloads),
    seriesChart("chart-installs", a.installs),
    {
      id: "chart-paths",
      type: "bar",
      horizontal: true,
      labels: a.paths.map((p) => `${p.from} → ${p.to}`),
      series: [
        { label: "downloads", values: a.paths.map((p) => p.downloads) },
        { label: "installs reported", values: a.paths.map((p) => p.installs) },
      ],
    },
    {
      id: "chart-bytes",
      type: "bar",
      labels: a.bytes.map((d) => d.day),
      series: [
        { label: "bytes served", values: a.bytes.map((d) => d.served) },
        { label: "bytes saved by deltas", values: a.bytes.map((d) => d.savedByDeltas) },
      ],
    },
  ];
  const healthRows = a.health
    .map(
      (
        h,
      ) => `<tr data-version="${esc(h.version)}"><td>${esc(h.version)}</td><td class="num">${count(h.installs)}</td><td class="num">${count(h.installed)}</td><td class="num">${count(h.confirmed)}</td>
<td class="num">${count(h.rolledBack)}</td><td class="num">${count(h.failed)}</td><td class="num ${h.failureRate > 0.02 ? "bad" : "ok"}">${percent(h.failureRate)}</td>
<td>${esc(
        Object.entries(h.reasons)
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
      )}</td></tr>`,
    )
    .join("");
  const body = `<section><p id="summary">${count(a.checks)} checks · ${count(a.downloads.versions.reduce((s, v) => s + v.total, 0))} update downloads · <span id="bytes-served">${bytes(totalServed)}</span> served · <span id="bytes-saved">${bytes(totalSaved)}</span> saved by deltas</p></section>
<div class="grid">
<section><h2>Update downloads per version (access logs)</h2><div class="chart"><canvas id="chart-downloads" role="img" aria-label="Downloads per version per day"></canvas></div><div class="scroll">${seriesTable("downloads", a.downloads, "downloads")}</div></section>
<section><h2>Installs per version (health reports)</h2><div class="chart"><canvas id="chart-installs" role="img" aria-label="Installs per version per day"></canvas></div><div class="scroll">${seriesTable("installs", a.installs, "installs")}</div></section>
<section><h2>Update paths</h2><div class="chart"><canvas id="chart-paths" role="img" aria-label="Update paths"></canvas></div><div class="scroll"><table id="paths"><thead><tr><th>From</th><th>To</th><th class="num">Downloads</th><th class="num">Installs</th></tr></thead><tbody>${a.paths
    .map(
      (p) =>
        `<tr><td>${esc(p.from)}</td><td>${esc(p.to)}</td><td class="num">${count(p.downloads)}</td><td class="num">${count(p.installs)}</td></tr>`,
    )
    .join("")}</tbody></table></div></section>
<section><h2>Bytes served and saved by deltas</h2><div class="chart"><canvas id="chart-bytes" role="img" aria-label="Bytes per day"></canvas></div><div class="scroll"><table id="bytes"><thead><tr><th>Day</th><th class="num">Served</th><th class="num">Saved by deltas</th></tr></thead><tbody>${a.bytes
    .map(
      (d) =>
        `<tr><td>${d.day}</td><td class="num" data-bytes="${d.served}">${bytes(d.served)}</td><td class="num" data-bytes="${d.savedByDeltas}">${bytes(d.savedByDeltas)}</td></tr>`,
    )
    .join("")}</tbody></table></div></section>
</div>
<h2>Failure rates</h2><section class="scroll">${
    a.health.length
      ? `<table id="health"><thead><tr><th>Version</th><th class="num">Installs</th><th class="num">Installed</th><th class="num">Confirmed</th><th class="num">Rolled back</th><th class="num">Failed</th><th class="num">Failure rate</th><th>Reasons</th></tr></thead><tbody>${healthRows}</tbody></table>`
      : '<p class="muted">No health reports: publish with <code>--report-url</code> and run <code>updraft serve --events</code>.</p>'
  }</section>`;
  return page(
    `${a.app}: adoption`,
    [
      ["/", "Apps"],
      [appHref(a.app), a.app],
      [`${appHref(a.app)}/adoption`, "Adoption"],
    ],
    body,
    { charts },
  );
}

/** The confirmation step of an action: what it does, the CLI command, and the button that does it. */
export function confirmPage(action: DashboardAction, repo: string, form: URLSearchParams, ctx: PageContext): string {
  const fields = [...form.entries()]
    .filter(([k]) => k !== "confirmed" && k !== "token")
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join("");
  const body = `<section><p>This signs new metadata with the keys of this machine. The same from a terminal or CI:</p>
<p><code id="cli-command">${esc(cliCommandOf(action, repo))}</code></p>
<form method="post" action="${appHref(action.app)}/actions">${fields}<input type="hidden" name="token" value="${esc(ctx.formToken)}"><input type="hidden" name="confirmed" value="1">
<button id="confirm">Confirm</button> <a href="${appHref(action.app)}">Cancel</a></form></section>`;
  return page(
    `Confirm: ${action.kind} ${action.version}`,
    [
      ["/", "Apps"],
      [appHref(action.app), action.app],
    ],
    body,
  );
}

/** A short page saying what went wrong (bad request, unknown app). */
export function messagePage(title: string, message: string): string {
  return page(title, [["/", "Apps"]], `<section><p>${esc(message)}</p></section>`);
}
