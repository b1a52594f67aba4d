// The results panel of an A/B test page. Draws each cumulative-lift fragment when
// htmx loads it: the fragment carries GET /abtest/{name}/compare/over-time's body in
// <script type="application/json" class="lift-data">; per treatment, a line of the
// relative lift in % and a band for its 95% interval. And keeps the panel on the
// page's range: when the controls move the page's URL to another range, the panel
// asks again. No inline script: the Content-Security-Policy forbids it.
(function () {
  "use strict";

  // charts.js's colours (treatment k is variant k + 1) and helpers: every page with
  // this script loads charts.js before it.
  var shared = window.tsmCharts;
  var colour = shared.colour, translucent = shared.translucent, all = shared.all, cell = shared.cell;
  var timeFormat = shared.timeFormat, timeZone = shared.timeZone;
  var percentFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, signDisplay: "exceptZero" });
  var pFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });

  function percent(x) { return x === null || x === undefined ? null : x * 100; }

  function show(x) { return x === null ? "–" : percentFormat.format(x) + "%"; }

  // Three datasets a treatment: the interval's upper and lower edges (filled between) and the lift.
  function datasets(treatments) {
    var out = [];
    treatments.forEach(function (treatment, index) {
      var hue = colour(index + 1);
      var line = [], low = [], high = [];
      treatment.points.forEach(function (p) {
        var x = p.t * 1000, ci = p.relativeLiftCi;
        line.push({ x: x, y: percent(p.relativeLift), point: p });
        low.push({ x: x, y: ci ? percent(ci[0]) : null });
        high.push({ x: x, y: ci ? percent(ci[1]) : null });
      });
      var edge = { band: true, borderWidth: 0, pointRadius: 0, pointHitRadius: 0, spanGaps: false };
      out.push(Object.assign({ label: treatment.variant + " (upper)", data: high, fill: false }, edge));
      out.push(Object.assign({ label: treatment.variant + " (lower)", data: low, fill: "-1",
        backgroundColor: translucent(hue, 0.18) }, edge));
      out.push({ label: treatment.variant, data: line, borderColor: hue, backgroundColor: hue,
        borderWidth: 1.8, pointRadius: 0, pointHitRadius: 4, spanGaps: false, tension: 0, fill: false });
    });
    return out;
  }

  function tooltipLabel(item) {
    var p = item.raw.point;
    if (!p || p.relativeLift === null) return item.dataset.label + ": not compared (" + (p && p.refusal || "no lift") + ")";
    var ci = p.relativeLiftCi;
    return item.dataset.label + ": " + show(percent(p.relativeLift)) +
      (ci ? " (95% CI " + show(percent(ci[0])) + " to " + show(percent(ci[1])) + ")" : "") +
      ", p = " + pFormat.format(p.pValue) + "; n = " + p.controlCount + " / " + p.treatmentCount;
  }

  function config(series) {
    return {
      type: "line",
      data: { datasets: datasets(series.treatments) },
      options: {
        animation: false, parsing: false, normalized: true,
        responsive: true, maintainAspectRatio: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "time", ticks: { maxRotation: 0, autoSkipPadding: 16 } },
          y: {
            title: { display: true, text: "lift against control, %" },
            // The zero line: an interval that stays off it is a result.
            grid: { color: function (ctx) { return ctx.tick && ctx.tick.value === 0 ? "#57606a" : "rgba(0,0,0,0.08)"; } },
          },
        },
        plugins: {
          legend: {
            onClick: function () {},
            labels: { filter: function (item, data) { return !data.datasets[item.datasetIndex].band; } },
          },
          tooltip: {
            filter: function (item) { return !item.dataset.band; },
            callbacks: {
              title: function (items) {
                var ms = items.length ? items[0].parsed.x : 0;
                return "Up to " + timeFormat.format(new Date(ms)) + " (" + timeZone + ")";
              },
              label: tooltipLabel,
            },
          },
        },
      },
    };
  }

  // "Show as table": the chart's numbers, a row per bucket end, built when first opened.
  function buildTable(holder, series) {
    if (holder.firstChild) return;
    var table = document.createElement("table");
    table.appendChild(cell("caption", series.metric + ": cumulative relative lift against control in %, " +
      "with its 95% interval and p-value, up to each bucket end; times in " + timeZone));
    var head = table.createTHead().insertRow();
    var th = cell("th", "Up to");
    th.scope = "col";
    head.appendChild(th);
    series.treatments.forEach(function (t) {
      [t.variant + " lift", "95% CI", "p-value"].forEach(function (name) {
        var c = cell("th", name, "num");
        c.scope = "col";
        head.appendChild(c);
      });
    });
    var body = table.createTBody();
    series.treatments[0].points.forEach(function (first, i) {
      var row = body.insertRow();
      var rowHead = document.createElement("th");
      rowHead.scope = "row";
      var time = cell("time", timeFormat.format(new Date(first.t * 1000)));
      time.dateTime = new Date(first.t * 1000).toISOString();
      rowHead.appendChild(time);
      row.appendChild(rowHead);
      series.treatments.forEach(function (t) {
        var p = t.points[i] || {};
        var ci = p.relativeLiftCi;
        row.appendChild(cell("td", show(percent(p.relativeLift === undefined ? null : p.relativeLift)), "num"));
        row.appendChild(cell("td", ci ? show(percent(ci[0])) + " to " + show(percent(ci[1])) : "–", "num"));
        row.appendChild(cell("td", p.pValue === null || p.pValue === undefined ? "–" : pFormat.format(p.pValue), "num"));
      });
    });
    holder.appendChild(table);
  }

  function drawLiftCharts(root) {
    var scripts = all(root, "script.lift-data");
    scripts.forEach(function (script) {
      var section = script.closest(".lift-chart");
      var canvas = section && section.querySelector("canvas");
      if (!canvas) return;
      var series = JSON.parse(script.textContent).metrics[0];
      var previous = Chart.getChart(canvas);
      if (previous) previous.destroy();
      new Chart(canvas, config(series));
      section.dataset.drawn = "true";  // for tests: this chart is on screen
      var details = section.querySelector("details.chart-table");
      if (details) {
        details.addEventListener("toggle", function () {
          if (details.open) buildTable(details.querySelector("[data-lift-table]"), series);
        });
      }
    });
  }

  // The range a page URL shows, written as the panel's data-view is.
  function rangeKey(params, defaultRange) {
    var range = params.get("range") || (params.get("start") ? "custom" : defaultRange);
    return range === "custom" ? ["custom", params.get("start") || "", params.get("end") || ""].join("|") : range;
  }

  // The controls push the page's canonical URL; a new range means new results.
  document.addEventListener("htmx:pushedIntoHistory", function (event) {
    var panel = document.getElementById("comparison");
    if (!panel || !panel.dataset.comparisonBase) return;
    var url = new URL(event.detail.path, window.location.href);
    if (url.pathname !== panel.dataset.pagePath) return;
    var key = rangeKey(url.searchParams, panel.dataset.defaultRange);
    if (key === panel.dataset.view) return;
    var query = new URLSearchParams();
    var custom = key.indexOf("custom|") === 0;
    ["range", "start", "end"].forEach(function (name) {
      var value = url.searchParams.get(name);
      if (value && (custom || name === "range")) query.set(name, value);
    });
    var correction = panel.querySelector("select[name=correction]");
    if (correction && correction.value !== "none") query.set("correction", correction.value);
    panel.dataset.view = key;
    htmx.ajax("GET", panel.dataset.comparisonBase + "?" + query.toString(),
      { source: panel, target: panel, swap: "outerHTML" });
  });

  htmx.onLoad(drawLiftCharts);
})();
