// TSMetrics.charts: draws every chart of the dashboard when htmx loads it, from the
// data its view put in the page (no inline script: the Content-Security-Policy
// forbids it). A chart frame is an element with a stable id and data-chart="<kind>";
// it holds a <canvas>, its data island (<script type="application/json">, never run)
// and may hold a "Show as table" <details class="chart-table"> with a
// [data-chart-table] holder, filled when first opened. The kinds:
// - "series": GET /metrics's datapoints per variant (t = bucket start in epoch
//   seconds, a = mean, l = min, h = max): a line per variant, a band from min to max;
// - "lift": GET /abtest/{name}/compare/over-time's body: per treatment, the cumulative
//   relative lift in % and a band for its 95% interval.
// A registry keeps each frame's Chart by the frame's id, so a chart can be updated in
// place (update) instead of drawn anew.
(function (TSMetrics) {
  "use strict";

  // The same colours as --variant-N in dashboard.css: a variant keeps its colour everywhere.
  var COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#882255", "#444444"];
  var numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });
  var percentFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, signDisplay: "exceptZero" });
  var pFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });
  var registry = new Map();  // frame id -> { chart, kind, model, frame }

  function colour(slot) { return COLOURS[slot % COLOURS.length]; }

  function translucent(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function cell(tag, text, className) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  // What both kinds share: a time axis, no animation, the nearest point in time.
  function lineOptions(yTitle, legend, tooltip) {
    return {
      animation: false, parsing: false, normalized: true,
      responsive: true, maintainAspectRatio: false,
      // Nearest in time, not by index: a variant may lack a bucket the other has.
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: { type: "time", ticks: { maxRotation: 0, autoSkipPadding: 16 } },
        y: { title: { display: true, text: yTitle } },
      },
      plugins: { legend: Object.assign({ onClick: function () {} }, legend), tooltip: tooltip },
    };
  }

  // A "Show as table" table: header rows of {text, num, span, rows} cells, then a row
  // per bucket, [epoch seconds, cell texts...], its time in the viewer's zone.
  function table(caption, heads, rows) {
    var out = document.createElement("table");
    out.appendChild(cell("caption", caption));
    var head = out.createTHead();
    heads.forEach(function (specs) {
      var tr = head.insertRow();
      specs.forEach(function (spec) {
        var th = cell("th", spec.text, spec.num ? "num" : "");
        th.scope = spec.span ? "colgroup" : "col";
        if (spec.span) th.colSpan = spec.span;
        if (spec.rows) th.rowSpan = spec.rows;
        tr.appendChild(th);
      });
    });
    var body = out.createTBody();
    rows.forEach(function (row) {
      var tr = body.insertRow();
      var th = document.createElement("th");
      var ms = row[0] * 1000;
      var time = cell("time", TSMetrics.localTime(ms));
      time.dateTime = new Date(ms).toISOString();
      time.title = TSMetrics.utcLabel(ms);
      th.scope = "row";
      th.appendChild(time);
      tr.appendChild(th);
      row.slice(1).forEach(function (text) { tr.appendChild(cell("td", text, "num")); });
    });
    return out;
  }

  // A missing bucket breaks the line (a null point) instead of bridging the gap.
  function toPoints(points, bucketMs) {
    var out = [];
    var previous = null;
    points.forEach(function (p) {
      var x = p.t * 1000;
      if (previous !== null && x - previous > bucketMs) out.push({ x: previous + bucketMs, y: null, l: null, h: null });
      out.push({ x: x, y: p.a, l: p.l, h: p.h });
      previous = x;
    });
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

  // The min-max band of a time series: drawn under the lines, and included in the y range.
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
          for (var k = run.length - 1; k >= 0; k--) {
            ctx.lineTo(xs.getPixelForValue(run[k].x), ys.getPixelForValue(run[k].l));
          }
          ctx.closePath();
          ctx.fill();
        });
      });
      ctx.restore();
    },
  };

  function number(v) { return v === undefined ? "–" : numberFormat.format(v); }

  // Each kind turns its island's JSON into a model, and the model into datasets,
  // options and a table. `counter` names the kind's attributes on <html> (data-<counter>-drawn,
  // data-<counter>-first-drawn-ms); the time series keep "charts", which bench_dashboard.py reads.
  var series = {
    counter: "charts",
    plugins: [bandPlugin],
    model: function (body) { return body; },
    datasets: function (payload) {
      var bucketMs = payload.bucketSeconds * 1000;
      return payload.series.map(function (s) {
        var lowest = Infinity, highest = -Infinity;
        s.points.forEach(function (p) { if (p.l < lowest) lowest = p.l; if (p.h > highest) highest = p.h; });
        return {
          label: s.variant, data: toPoints(s.points, bucketMs), lowest: lowest, highest: highest,
          borderColor: colour(s.slot), backgroundColor: colour(s.slot), bandColour: translucent(colour(s.slot), 0.16),
          borderWidth: 1.6, pointRadius: 0, pointHitRadius: 4, spanGaps: false, tension: 0,
        };
      });
    },
    options: function (payload) {
      var unit = payload.unit ? " " + payload.unit : "";
      // Each chart its own legend, so a chart read far from the controls still names its lines.
      return lineOptions(payload.unit || payload.metric, { display: true }, {
        callbacks: {
          title: function (items) {
            var ms = items.length ? items[0].parsed.x : 0;
            return [TSMetrics.localTime(ms) + " (" + TSMetrics.timeZone + ")", TSMetrics.utcLabel(ms)];
          },
          label: function (item) {
            var p = item.raw;
            return item.dataset.label + ": " + numberFormat.format(p.y) + unit +
              " (min " + numberFormat.format(p.l) + ", max " + numberFormat.format(p.h) + ")";
          },
        },
      });
    },
    table: function (payload) {
      var byTime = {};
      payload.series.forEach(function (s, i) {
        s.points.forEach(function (p) { (byTime[p.t] = byTime[p.t] || [])[i] = p; });
      });
      var top = [{ text: "Bucket start", rows: 2 }], sub = [];
      payload.series.forEach(function (s) {
        top.push({ text: s.variant, span: 3 });
        ["mean", "min", "max"].forEach(function (name) { sub.push({ text: name, num: true }); });
      });
      var rows = Object.keys(byTime).map(Number).sort(function (a, b) { return a - b; }).map(function (t) {
        var row = [t];
        payload.series.forEach(function (s, i) {
          var p = byTime[t][i];
          row.push(number(p && p.a), number(p && p.l), number(p && p.h));
        });
        return row;
      });
      var unit = payload.unit ? " (" + payload.unit + ")" : "";
      return table(payload.metric + unit + ": mean, minimum and maximum per " + payload.granularity +
        " bucket; times in " + TSMetrics.timeZone, [top, sub], rows);
    },
  };

  function percent(x) { return x === null || x === undefined ? null : x * 100; }

  function showPercent(x) { return x === null ? "–" : percentFormat.format(x) + "%"; }

  function liftLabel(item) {
    var p = item.raw.point;
    if (!p || p.relativeLift === null) {
      return item.dataset.label + ": not compared (" + (p && p.refusal || "no lift") + ")";
    }
    var ci = p.relativeLiftCi;
    return item.dataset.label + ": " + showPercent(percent(p.relativeLift)) +
      (ci ? " (95% CI " + showPercent(percent(ci[0])) + " to " + showPercent(percent(ci[1])) + ")" : "") +
      ", p = " + pFormat.format(p.pValue) + "; n = " + p.controlCount + " / " + p.treatmentCount;
  }

  var lift = {
    counter: "lift",
    plugins: [],
    // The fragment carries the over-time body of its one metric.
    model: function (body) { return body.metrics[0]; },
    // Three datasets a treatment (treatment k is variant k + 1): the interval's upper
    // and lower edges, filled between, and the lift.
    datasets: function (metric) {
      var out = [];
      metric.treatments.forEach(function (treatment, index) {
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
    },
    options: function () {
      var options = lineOptions("lift against control, %",
        { labels: { filter: function (item, data) { return !data.datasets[item.datasetIndex].band; } } },
        {
          filter: function (item) { return !item.dataset.band; },
          callbacks: {
            title: function (items) {
              var ms = items.length ? items[0].parsed.x : 0;
              return "Up to " + TSMetrics.localTime(ms) + " (" + TSMetrics.timeZone + ")";
            },
            label: liftLabel,
          },
        });
      // The zero line: an interval that stays off it is a result.
      options.scales.y.grid = {
        color: function (ctx) { return ctx.tick && ctx.tick.value === 0 ? "#57606a" : "rgba(0,0,0,0.08)"; },
      };
      return options;
    },
    table: function (metric) {
      var heads = [{ text: "Up to" }];
      metric.treatments.forEach(function (t) {
        [t.variant + " lift", "95% CI", "p-value"].forEach(function (name) { heads.push({ text: name, num: true }); });
      });
      var rows = metric.treatments[0].points.map(function (first, i) {
        var row = [first.t];
        metric.treatments.forEach(function (t) {
          var p = t.points[i] || {}, ci = p.relativeLiftCi;
          row.push(showPercent(percent(p.relativeLift)),
            ci ? showPercent(percent(ci[0])) + " to " + showPercent(percent(ci[1])) : "–",
            p.pValue === null || p.pValue === undefined ? "–" : pFormat.format(p.pValue));
        });
        return row;
      });
      return table(metric.metric + ": cumulative relative lift against control in %, with its 95% interval and " +
        "p-value, up to each bucket end; times in " + TSMetrics.timeZone, [heads], rows);
    },
  };

  var KINDS = { series: series, lift: lift };

  function frameOf(island) { return island.closest("[data-chart]"); }

  function fillTable(id) {
    var entry = registry.get(id);
    var holder = entry && entry.frame.querySelector("[data-chart-table]");
    if (holder && !holder.firstChild) holder.appendChild(entry.kind.table(entry.model));
  }

  function release(id) {
    registry.get(id).chart.destroy();
    registry.delete(id);
  }

  // Draws the chart of `island`'s frame; if the frame's canvas shows it already, updates it.
  function draw(island) {
    var frame = frameOf(island);
    var kind = KINDS[frame.dataset.chart];
    if (!frame.id || !kind) throw new Error("A chart frame needs an id and a known data-chart: " + frame.id);
    var canvas = frame.querySelector("canvas");
    var body = JSON.parse(island.textContent);
    var entry = registry.get(frame.id);
    if (entry && entry.chart.canvas === canvas) return update(frame.id, body);
    if (entry) release(frame.id);
    var model = kind.model(body);
    var chart = new Chart(canvas, {
      type: "line", data: { datasets: kind.datasets(model) }, options: kind.options(model), plugins: kind.plugins,
    });
    registry.set(frame.id, { chart: chart, kind: kind, model: model, frame: frame });
    var details = frame.querySelector("details.chart-table");
    if (details) details.addEventListener("toggle", function () { if (details.open) fillTable(frame.id); });
    frame.dataset.drawn = "true";  // for tests: this chart is on screen
    return chart;
  }

  // Shows `body` (what the frame's island would carry) in the registered chart `id`, in place.
  function update(id, body) {
    var entry = registry.get(id);
    entry.model = entry.kind.model(body);
    entry.chart.data.datasets = entry.kind.datasets(entry.model);
    entry.chart.options = entry.kind.options(entry.model);
    entry.chart.update("none");
    var holder = entry.frame.querySelector("[data-chart-table]");
    if (holder && holder.firstChild) {
      holder.replaceChildren();
      fillTable(id);
    }
    return entry.chart;
  }

  // Counts, per kind, the htmx loads that drew charts (tests wait on the count), and
  // times the first: navigation start until those charts are on screen.
  function count(kind) {
    var html = document.documentElement;
    var drawn = kind.counter + "Drawn", first = kind.counter + "FirstDrawnMs";
    html.dataset[drawn] = String(Number(html.dataset[drawn] || 0) + 1);
    requestAnimationFrame(function () {
      if (html.dataset[first]) return;
      html.dataset[first] = String(Math.round(performance.now()));
      performance.mark("tsm-" + kind.counter + "-drawn");
    });
  }

  function drawn(island) {
    var entry = registry.get(frameOf(island).id);
    return !!entry && entry.chart.canvas === frameOf(island).querySelector("canvas");
  }

  function drawAll(root) {
    var kinds = new Set();
    TSMetrics.all(root, "[data-chart] > script[type='application/json']").forEach(function (island) {
      // Drawn already: an in-place refresh (refresh below) handled it.
      if (drawn(island)) return;
      draw(island);
      kinds.add(KINDS[frameOf(island).dataset.chart]);
    });
    kinds.forEach(count);
  }

  // After an in-place refresh (morph.js): redraws the charts whose data changed, draws
  // any new one, and counts the refresh as a load of every kind of chart under `root`.
  function refresh(root, islands) {
    islands.forEach(draw);
    var kinds = new Set();
    TSMetrics.all(root, "[data-chart] > script[type='application/json']").forEach(function (island) {
      if (!drawn(island)) draw(island);
      kinds.add(KINDS[frameOf(island).dataset.chart]);
    });
    kinds.forEach(count);
  }

  // A chart whose canvas htmx removes must release its listeners and observers.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    if (event.target.tagName !== "CANVAS") return;
    registry.forEach(function (entry, id) { if (entry.chart.canvas === event.target) release(id); });
  });

  TSMetrics.charts = {
    draw: draw,
    update: update,
    refresh: refresh,
    get: function (id) { var entry = registry.get(id); return entry && entry.chart; },
    ids: function () { return Array.from(registry.keys()); },
  };

  htmx.onLoad(drawAll);
})(window.TSMetrics);
