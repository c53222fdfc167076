"""The monitor page: one HTML file that polls `state.json` every two seconds and redraws itself.

Plots are Plotly's (served from the installed plotly package, no network): hover a point to see
its trial and config.
"""

POLL_MS = 2000

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rnn-tune monitor</title>
<link rel="icon" href="data:,">
<script src="plotly.min.js"></script>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#status { color: #555; }
#error { color: #b00; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plot { width: 560px; height: 360px; }
</style>
</head>
<body>
<h1>rnn-tune sweep <span id="run"></span></h1>
<p id="status">loading&hellip;</p>
<p id="budget"></p>
<p id="links"></p>
<p id="error"></p>
<h2>Leaderboard</h2>
<table id="leaderboard"><thead><tr><th>#</th><th>trial</th><th>family</th><th>best val_acc</th>
<th>epochs</th><th>status</th><th>config</th></tr></thead><tbody></tbody></table>
<h2>Running trials</h2>
<table id="running"><thead><tr><th>trial</th><th>family</th><th>epoch</th><th>val_acc</th>
<th>node</th><th>device</th><th>Ray dashboard</th></tr></thead><tbody></tbody></table>
<div id="final"></div>
<div class="plots">
<div><h2>Best val_acc so far</h2><div id="best-plot" class="plot"></div></div>
<div><h2>Learning curves (val_acc per epoch)<span id="curves-of"></span></h2>
<div id="curves-plot" class="plot"></div></div>
</div>
<script>
"use strict";
const POLL_MS = __POLL_MS__;
const pct = (x) => (x === null || x === undefined) ? "" : (100 * x).toFixed(2) + "%";
const clock = (s) => Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fillTable(id, rows, render) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const item of rows) render(body.insertRow(), item);
}

function link(td, href, text) {
  if (!href) return;
  td.textContent = "";
  const a = document.createElement("a");
  a.href = href; a.textContent = text; a.target = "_blank"; a.rel = "noopener";
  td.appendChild(a);
}

function render(s) {
  document.getElementById("run").textContent = s.run;
  document.getElementById("error").textContent = s.message || "";
  const counts = Object.entries(s.counts || {}).map(([k, v]) => k.replace("_", " ") + " " + v);
  document.getElementById("status").textContent = s.state
    + (s.elapsed_s !== undefined ? " for " + clock(s.elapsed_s) : "")
    + (counts.length ? " | " + counts.join(", ") : "")
    + " | epochs reported: " + (s.epochs_reported || 0);
  document.getElementById("budget").textContent = s.budget ? "Budget: " + s.budget : "";
  const links = document.getElementById("links");
  links.replaceChildren();
  if (s.dashboard) {
    const a = document.createElement("a");
    a.href = s.dashboard; a.textContent = "Ray dashboard"; a.target = "_blank";
    links.append(a, s.token_auth ? " (sign in with the token `ray get-auth-token` prints)" : "");
  }
  fillTable("leaderboard", s.leaderboard || [], (r, t) => {
    cell(r, t.rank); cell(r, t.trial_id); cell(r, t.family);
    cell(r, pct(t.best_val_acc), "num"); cell(r, t.epochs, "num");
    cell(r, t.status.replace("_", " ")); cell(r, t.config);
  });
  fillTable("running", s.running || [], (r, t) => {
    cell(r, t.trial_id); cell(r, t.family); cell(r, t.epoch, "num");
    cell(r, pct(t.val_acc), "num"); cell(r, t.node); cell(r, t.device);
    link(cell(r, ""), t.link, "actor");
  });
  const final = document.getElementById("final");
  final.replaceChildren();
  if ((s.final || []).length) {
    const h = document.createElement("h2");
    h.textContent = "Final models (best per family, scored once on test)";
    final.appendChild(h);
    final.appendChild(document.createTextNode(
      s.final.map((f) => f.family + ": val " + pct(f.val_acc) + ", test " + pct(f.test_acc))
        .join("; ")));
  }
  const best = s.best_over_time || [];
  Plotly.react("best-plot", [{
    x: best.map((p) => p.t / 60), y: best.map((p) => p.val_acc), mode: "lines+markers",
    line: { shape: "hv" }, text: best.map((p) => "trial " + p.trial_id),
    hovertemplate: "%{text}<br>%{y:.2%} at %{x:.1f} min<extra></extra>", name: "best",
  }], {
    margin: { t: 10, r: 10 }, xaxis: { title: { text: "wall time (min)" } },
    yaxis: { title: { text: "val_acc" }, tickformat: ".0%" }, showlegend: false,
  }, { displaylogo: false, responsive: true });
  const colors = { rnn: "#1f77b4", lstm: "#d62728", gru: "#2ca02c" };
  const curves = (s.curves || []).length;
  document.getElementById("curves-of").textContent = s.curves_of > curves
    ? ": the best and the running, " + curves + " of " + s.curves_of + " trials" : "";
  Plotly.react("curves-plot", (s.curves || []).map((c) => ({
    x: c.epoch, y: c.val_acc, mode: "lines+markers", name: c.trial_id,
    legendgroup: c.family, line: { color: colors[c.family] || "#7f7f7f" },
    text: c.epoch.map(() => "trial " + c.trial_id + "<br>" + c.config),
    hovertemplate: "%{text}<br>epoch %{x}: %{y:.2%}<extra></extra>",
  })), {
    margin: { t: 10, r: 10 }, xaxis: { title: { text: "epoch" }, rangemode: "nonnegative" },
    yaxis: { title: { text: "val_acc" }, tickformat: ".0%" }, showlegend: false,
  }, { displaylogo: false, responsive: true });
}

async function poll() {
  try {
    const reply = await fetch("state.json", { cache: "no-store" });
    const s = await reply.json();
    if (!reply.ok) throw new Error(s.error || reply.statusText);
    render(s);
    document.getElementById("error").textContent = s.message || "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot read the run: " + e.message;
  }
  setTimeout(poll, POLL_MS);
}
poll();
</script>
</body>
</html>
""".replace("__POLL_MS__", str(POLL_MS))
