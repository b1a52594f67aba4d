// TSMetrics.charts: draws every chart of the dashboard when htmx loads it, from the
// data its view put in the page (no inline script: the Content-Security-Policy
// forbids it). A chart frame is an element with a stable id and data-chart="<kind>";
// it holds a <canvas>, its data island (<script type="application/json">, never run)
// and may hold a "Show as table" <details class="chart-table"> with a
// [data-chart-table] holder, filled when first opened. The kinds:
// - "series": GET /metrics's datapoints per variant (t = bucket start in epoch
//   seconds, a = mean, l = min, h = max, q = percentiles when asked for): a line per
//   variant and a band, each drawn from the fields the payload names (`line`, e.g. "a"
//   or "q.p95"; `band`, e.g. ["l", "h"] or ["q.p5", "q.p95"]);
// - "lift": GET /abtest/{name}/compare/over-time's body: per treatment, the cumulative
//   relative lift in % and a band for its 95% interval.
// A registry keeps each frame's Chart by the frame's id, so a chart can be updated in
// place (update) instead of drawn anew.
(function (TSMetrics) {
  "use strict";

  // Fallbacks for --variant-N in dashboard.css, which wins: a variant keeps its colour
  // everywhere, in the light and the dark scheme.
  var COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#882255", "#444444"];
  var numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });
  // One locale and one zone for the whole page: the viewer's, as TSMetrics.localTime uses.
  var dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  var clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var DAY_MS = 86400000;
  var percentFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, signDisplay: "exceptZero" });
  var pFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });
  var registry = new Map();  // frame id -> { chart, kind, model, frame }

  // A custom property of the page's scheme (dashboard.css), e.g. "--muted".
  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function colour(slot) { return css("--variant-" + (slot % COLOURS.length), COLOURS[slot % COLOURS.length]); }

  // The axes' and legend's colours follow the scheme (light or dark).
  function theme() {
    Chart.defaults.color = css("--muted", "#57606a");
    Chart.defaults.borderColor = css("--grid", "rgba(0,0,0,0.1)");
  }

  // Ticks in the viewer's zone; on a range of more than a day and a half, with dates.
  function tickLabel(spanMs) {
    return function (value) {
      var date = new Date(value);
      var midnight = date.getHours() === 0 && date.getMinutes() === 0;
      if (spanMs > 1.5 * DAY_MS) return midnight ? dayFormat.format(date) : [dayFormat.format(date), clockFormat.format(date)];
      return midnight ? [clockFormat.format(date), dayFormat.format(date)] : clockFormat.format(date);
    };
  }

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

  // What both kinds share: a time axis over exactly the range asked for (when known), no
  // animation, the nearest point in time.
  function lineOptions(yTitle, legend, tooltip, range) {
    var x = { type: "time", ticks: { maxRotation: 0, autoSkipPadding: 16 } };
    if (range && range.startMs !== null && range.startMs !== undefined) {
      x.min = range.startMs;
      x.max = range.endMs;
      x.ticks.callback = tickLabel(range.endMs - range.startMs);
    }
    return {
      animation: false, parsing: false, normalized: true,
      responsive: true, maintainAspectRatio: false,
      // Nearest in time, not by index: a variant may lack a bucket the other has.
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: x,
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

  // A datapoint's field by name: "a", or "q.p95" for a percentile (split at the first
  // dot: "q.p99.9"). Null when the bucket has none (q is null for buckets stored before
  // the metric kept distributions).
  function field(p, name) {
    var dot = name.indexOf(".");
    var value = dot < 0 ? p[name] : (p[name.slice(0, dot)] || {})[name.slice(dot + 1)];
    return value === undefined ? null : value;
  }

  // A point per bucket: x, y (the line's field of the datapoint) and the band's two
  // fields (`band`, e.g. ["l", "h"] for min and max; any two per-point fields will do).
  // A missing bucket breaks the line (a null point) instead of bridging the gap.
  function toPoints(points, bucketMs, line, band) {
    var out = [];
    var previous = null;
    points.forEach(function (p) {
      var x = p.t * 1000;
      if (previous !== null && x - previous > bucketMs) out.push({ x: previous + bucketMs, y: null, low: null, high: null });
      out.push({ x: x, y: field(p, line), low: field(p, band[0]), high: field(p, band[1]), raw: p });
      previous = x;
    });
    return out;
  }

  // Each run of consecutive points that have `keys` (default: the line's y).
  function eachRun(data, callback, keys) {
    var run = [];
    keys = keys || ["y"];
    for (var i = 0; i <= data.length; i++) {
      var p = data[i];
      if (p && keys.every(function (key) { return p[key] !== null; })) { run.push(p); continue; }
      if (run.length) callback(run);
      run = [];
    }
  }

  // Samples stored before the accepted value range existed may reach ±1.8e308: an
  // axis from -1.8e308 to 1.8e308 spans Infinity and gets no ticks, so the y range
  // stops at a quarter of the largest double (what lies beyond is clipped).
  var AXIS_LIMIT = Number.MAX_VALUE / 4;

  // The band of a time series (min to max by default), drawn under the lines: a translucent
  // fill and dashed edges in the variant's colour, so overlapping bands stay apart. The y
  // axis fits the lines and clips the band, unless the chart's "full band" box is ticked.
  var bandPlugin = {
    id: "tsmBand",
    afterDataLimits: function (chart, args, options) {
      var scale = args.scale;
      if (scale.axis !== "y") return;
      if (options.full) {
        chart.data.datasets.forEach(function (dataset, index) {
          if (!chart.isDatasetVisible(index)) return;
          scale.min = Math.min(scale.min, dataset.lowest);
          scale.max = Math.max(scale.max, dataset.highest);
        });
      }
      scale.min = Math.max(scale.min, -AXIS_LIMIT);
      scale.max = Math.min(scale.max, AXIS_LIMIT);
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
        ctx.strokeStyle = dataset.bandEdge;
        ctx.lineWidth = 1;
        ctx.setLineDash(index % 2 ? [2, 3] : [6, 3]);
        // A bucket without the band's fields (no percentiles yet) breaks the band.
        eachRun(dataset.data, function (run) {
          var top = run.map(function (p) { return [xs.getPixelForValue(p.x), ys.getPixelForValue(p.high)]; });
          var bottom = run.map(function (p) { return [xs.getPixelForValue(p.x), ys.getPixelForValue(p.low)]; });
          ctx.beginPath();
          top.forEach(function (xy, k) { if (k === 0) ctx.moveTo(xy[0], xy[1]); else ctx.lineTo(xy[0], xy[1]); });
          for (var k = bottom.length - 1; k >= 0; k--) ctx.lineTo(bottom[k][0], bottom[k][1]);
          ctx.closePath();
          ctx.fill();
          [top, bottom].forEach(function (edge) {
            ctx.beginPath();
            edge.forEach(function (xy, k) { if (k === 0) ctx.moveTo(xy[0], xy[1]); else ctx.lineTo(xy[0], xy[1]); });
            ctx.stroke();
          });
        }, ["low", "high"]);
      });
      ctx.restore();
    },
  };

  function number(v, format) { return v === undefined || v === null ? "–" : (format || numberFormat).format(v); }

  // The metric's display decimals, as the results panel shows its numbers.
  function decimalsFormat(payload) {
    var d = payload.decimals;
    if (d === undefined || d === null) return numberFormat;
    return new Intl.NumberFormat(undefined, { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  // A frame's "full band" box: ticked, the y axis takes in the whole band.
  function fullBand(frame) {
    var box = frame && frame.querySelector("input[data-full-band]");
    return !!box && box.checked;
  }

  // Each kind turns its island's JSON into a model, and the model into datasets,
  // options and a table. `counter` names the kind's attributes on <html> (data-<counter>-drawn,
  // data-<counter>-first-drawn-ms); the time series keep "charts", which bench_dashboard.py reads.
  var series = {
    counter: "charts",
    plugins: [bandPlugin],
    model: function (body) { return body; },
    datasets: function (payload) {
      var bucketMs = payload.bucketSeconds * 1000;
      var line = payload.line || "a", band = payload.band || ["l", "h"];
      return payload.series.map(function (s) {
        var lowest = Infinity, highest = -Infinity;
        s.points.forEach(function (p) {
          var low = field(p, band[0]), high = field(p, band[1]);
          if (low !== null && low < lowest) lowest = low;
          if (high !== null && high > highest) highest = high;
        });
        var hue = colour(s.slot);
        return {
          label: s.variant, data: toPoints(s.points, bucketMs, line, band), lowest: lowest, highest: highest,
          borderColor: hue, backgroundColor: hue, bandColour: translucent(hue, 0.12), bandEdge: translucent(hue, 0.75),
          borderWidth: 1.6, pointRadius: 0, pointHitRadius: 4, spanGaps: false, tension: 0,
        };
      });
    },
    options: function (payload, frame) {
      var unit = payload.unit ? " " + payload.unit : "";
      var format = decimalsFormat(payload);
      var lineName = payload.lineName || "mean", bandName = payload.bandName || "min–max";
      // Each chart its own legend, so a chart read far from the controls still names its lines.
      var options = lineOptions(payload.unit || payload.metric, { display: true }, {
        callbacks: {
          title: function (items) {
            var ms = items.length ? items[0].parsed.x : 0;
            return [TSMetrics.localTime(ms) + " (" + TSMetrics.timeZone + ")", TSMetrics.utcLabel(ms)];
          },
          label: function (item) {
            var p = item.raw;
            var band = p.low === null || p.high === null ? "no " + bandName + " band" :
              bandName + " " + format.format(p.low) + " to " + format.format(p.high);
            return item.dataset.label + ": " + lineName + " " + format.format(p.y) + unit + " (" + band + ")";
          },
        },
      }, payload);
      options.plugins.tsmBand = { full: fullBand(frame) };
      return options;
    },
    // Mean, min and max, then each percentile the chart shows (its line's and band's).
    table: function (payload) {
      var format = decimalsFormat(payload);
      var quantiles = payload.quantiles || [];
      var names = ["mean", "min", "max"].concat(quantiles);
      var byTime = {};
      payload.series.forEach(function (s, i) {
        s.points.forEach(function (p) { (byTime[p.t] = byTime[p.t] || [])[i] = p; });
      });
      var top = [{ text: "Bucket start", rows: 2 }], sub = [];
      payload.series.forEach(function (s) {
        top.push({ text: s.variant, span: names.length });
        names.forEach(function (name) { sub.push({ text: name, num: true }); });
      });
      var rows = Object.keys(byTime).map(Number).sort(function (a, b) { return a - b; }).map(function (t) {
        var row = [t];
        payload.series.forEach(function (s, i) {
          var p = byTime[t][i];
          row.push(number(p && p.a, format), number(p && p.l, format), number(p && p.h, format));
          quantiles.forEach(function (name) { row.push(number(p && field(p, "q." + name), format)); });
        });
        return row;
      });
      var unit = payload.unit ? " (" + payload.unit + ")" : "";
      var shown = quantiles.length ? "mean, minimum, maximum and " + quantiles.join(", ") : "mean, minimum and maximum";
      return table(payload.metric + unit + ": " + shown + " per " + payload.granularity +
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
        color: function (ctx) { return ctx.tick && ctx.tick.value === 0 ? css("--muted", "#57606a") : css("--grid", "rgba(0,0,0,0.08)"); },
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
      type: "line", data: { datasets: kind.datasets(model) }, options: kind.options(model, frame), plugins: kind.plugins,
    });
    registry.set(frame.id, { chart: chart, kind: kind, model: model, frame: frame, body: body });
    var details = frame.querySelector("details.chart-table");
    if (details) details.addEventListener("toggle", function () { if (details.open) fillTable(frame.id); });
    frame.dataset.drawn = "true";  // for tests: this chart is on screen
    return chart;
  }

  // Shows `body` (what the frame's island would carry) in the registered chart `id`, in place.
  function update(id, body) {
    var entry = registry.get(id);
    entry.body = body;
    entry.model = entry.kind.model(body);
    entry.chart.data.datasets = entry.kind.datasets(entry.model);
    entry.chart.options = entry.kind.options(entry.model, entry.frame);
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
    // For bench_dashboard.py: when the latest set was drawn (a range change, a refresh).
    html.dataset[kind.counter + "LastDrawnMs"] = String(Math.round(performance.now()));
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

  // A chart's "full band" box: the same data, the y axis taking in the band or not.
  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("input[data-full-band]")) return;
    var frame = frameOf(event.target), entry = frame && registry.get(frame.id);
    if (!entry) return;
    entry.chart.options.plugins.tsmBand = { full: event.target.checked };
    entry.chart.update("none");
  });

  // The scheme changed (light or dark): every chart takes the new colours.
  function retheme() {
    theme();
    registry.forEach(function (entry, id) { update(id, entry.body); });
  }
  if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", retheme);
  theme();

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
