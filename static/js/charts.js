// Draws every chart fragment when htmx loads it. A fragment carries its data in
// <script type="application/json" class="chart-data">: per variant, the datapoints
// of GET /metrics (t = bucket start in epoch seconds, a = mean, l = min, h = max).
// One line per variant for the mean, a shaded band from min to max.
(function () {
  "use strict";

  // The same colours as --variant-N in dashboard.css: a variant keeps its colour everywhere.
  var COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#882255", "#444444"];
  var numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });
  var timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
  var timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var drawCount = 0;

  function colour(slot) { return COLOURS[slot % COLOURS.length]; }

  function translucent(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function utcLabel(ms) { return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC"; }

  function all(root, selector) {
    var found = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll(selector)) : [];
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  // A missing bucket breaks the line (a null point) instead of bridging the gap.
  function toPoints(points, bucketMs) {
    var out = [];
    var previous = null;
    for (var i = 0; i < points.length; i++) {
      var p = points[i];
      var x = p.t * 1000;
      if (previous !== null && x - previous > bucketMs) out.push({ x: previous + bucketMs, y: null, l: null, h: null });
      out.push({ x: x, y: p.a, l: p.l, h: p.h });
      previous = x;
    }
    return out;
  }

  function eachRun(data, callback) {
    var run = [];
    for (var i = 0; i <= data.length; i++) {
      var p = data[i];
      if (p && p.y !== null) { run.push(p); continue; }
      if (run.length) callback(run);
      run = [];
    }
  }

  // The min-max band: drawn under the lines, and included in the y range.
  var bandPlugin = {
    id: "tsmBand",
    afterDataLimits: function (chart, args) {
      var scale = args.scale;
      if (scale.axis !== "y") return;
      chart.data.datasets.forEach(function (dataset, index) {
        if (!chart.isDatasetVisible(index)) return;
        scale.min = Math.min(scale.min, dataset.lowest);
        scale.max = Math.max(scale.max, dataset.highest);
      });
    },
    beforeDatasetsDraw: function (chart) {
      var ctx = chart.ctx, area = chart.chartArea, xs = chart.scales.x, ys = chart.scales.y;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.width, area.height);
      ctx.clip();
      chart.data.datasets.forEach(function (dataset, index) {
        if (!chart.isDatasetVisible(index)) return;
        ctx.fillStyle = dataset.bandColour;
        eachRun(dataset.data, function (run) {
          ctx.beginPath();
          run.forEach(function (p, k) {
            var px = xs.getPixelForValue(p.x), py = ys.getPixelForValue(p.h);
            if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
          });
          for (var k = run.length - 1; k >= 0; k--) ctx.lineTo(xs.getPixelForValue(run[k].x), ys.getPixelForValue(run[k].l));
          ctx.closePath();
          ctx.fill();
        });
      });
      ctx.restore();
    },
  };

  function dataset(series, bucketMs) {
    var data = toPoints(series.points, bucketMs);
    var lowest = Infinity, highest = -Infinity;
    series.points.forEach(function (p) { if (p.l < lowest) lowest = p.l; if (p.h > highest) highest = p.h; });
    return {
      label: series.variant, data: data, lowest: lowest, highest: highest,
      borderColor: colour(series.slot), backgroundColor: colour(series.slot),
      bandColour: translucent(colour(series.slot), 0.16),
      borderWidth: 1.6, pointRadius: 0, pointHitRadius: 4, spanGaps: false, tension: 0,
    };
  }

  function config(payload, showLegend) {
    var bucketMs = payload.bucketSeconds * 1000;
    var unit = payload.unit ? " " + payload.unit : "";
    return {
      type: "line",
      data: { datasets: payload.series.map(function (s) { return dataset(s, bucketMs); }) },
      plugins: [bandPlugin],
      options: {
        animation: false, parsing: false, normalized: true,
        responsive: true, maintainAspectRatio: false,
        // Nearest in time, not by index: a variant may lack a bucket the other has.
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "time", ticks: { maxRotation: 0, autoSkipPadding: 16 } },
          y: { title: { display: true, text: payload.unit || payload.metric } },
        },
        plugins: {
          legend: { display: showLegend, onClick: function () {} },
          tooltip: {
            callbacks: {
              title: function (items) {
                var ms = items.length ? items[0].parsed.x : 0;
                return [timeFormat.format(new Date(ms)) + " (" + timeZone + ")", utcLabel(ms)];
              },
              label: function (item) {
                var p = item.raw;
                return item.dataset.label + ": " + numberFormat.format(p.y) + unit +
                  " (min " + numberFormat.format(p.l) + ", max " + numberFormat.format(p.h) + ")";
              },
            },
          },
        },
      },
    };
  }

  function cell(tag, text, className) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  // static/js/lift-chart.js, loaded after this file, draws with the same colours and helpers.
  window.tsmCharts = {
    colour: colour, translucent: translucent, all: all, cell: cell, timeFormat: timeFormat, timeZone: timeZone,
  };

  // "Show as table": the same numbers as the chart, built when first opened.
  function buildTable(holder, payload) {
    if (holder.firstChild) return;
    var byTime = {};
    payload.series.forEach(function (s, i) {
      s.points.forEach(function (p) { (byTime[p.t] = byTime[p.t] || [])[i] = p; });
    });
    var table = document.createElement("table");
    table.appendChild(cell("caption", payload.metric + (payload.unit ? " (" + payload.unit + ")" : "") +
      ": mean, minimum and maximum per " + payload.granularity + " bucket; times in " + timeZone));
    var head = table.createTHead(), top = head.insertRow(), sub = head.insertRow();
    var timeHead = cell("th", "Bucket start");
    timeHead.scope = "col";
    timeHead.rowSpan = 2;
    top.appendChild(timeHead);
    payload.series.forEach(function (s) {
      var th = cell("th", s.variant);
      th.scope = "colgroup";
      th.colSpan = 3;
      top.appendChild(th);
      ["mean", "min", "max"].forEach(function (name) { var c = cell("th", name, "num"); c.scope = "col"; sub.appendChild(c); });
    });
    var body = table.createTBody();
    Object.keys(byTime).map(Number).sort(function (a, b) { return a - b; }).forEach(function (t) {
      var row = body.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      var time = cell("time", timeFormat.format(new Date(t * 1000)));
      time.dateTime = new Date(t * 1000).toISOString();
      time.title = utcLabel(t * 1000);
      th.appendChild(time);
      row.appendChild(th);
      payload.series.forEach(function (s, i) {
        var p = byTime[t][i];
        [p && p.a, p && p.l, p && p.h].forEach(function (v) {
          row.appendChild(cell("td", v === undefined ? "–" : numberFormat.format(v), "num"));
        });
      });
    });
    holder.appendChild(table);
  }

  function drawCharts(root) {
    var scripts = all(root, "script.chart-data");
    var showLegend = !document.getElementById("controls");
    scripts.forEach(function (script) {
      var section = script.closest(".chart");
      var canvas = section && section.querySelector("canvas");
      if (!canvas) return;
      var payload = JSON.parse(script.textContent);
      var previous = Chart.getChart(canvas);
      if (previous) previous.destroy();
      new Chart(canvas, config(payload, showLegend));
      var details = section.querySelector("details.chart-table");
      if (details) {
        details.addEventListener("toggle", function () {
          if (details.open) buildTable(details.querySelector("[data-chart-table]"), payload);
        });
      }
    });
    if (!scripts.length) return;
    drawCount += 1;
    var html = document.documentElement;
    html.dataset.chartsDrawn = String(drawCount);
    if (!html.dataset.chartsFirstDrawnMs) {
      // Time from navigation start until the first set of charts is on screen.
      requestAnimationFrame(function () {
        html.dataset.chartsFirstDrawnMs = String(Math.round(performance.now()));
        performance.mark("tsm-charts-drawn");
      });
    }
  }

  // A chart whose canvas htmx removes must release its listeners and observers.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    if (event.target.tagName !== "CANVAS") return;
    var chart = Chart.getChart(event.target);
    if (chart) chart.destroy();
  });

  htmx.onLoad(drawCharts);
})();
