// The A/B test page's range controls (#controls). The custom range is typed in local time
// and sent only on Apply or Enter, once checked here (start before end, years within the
// fields' min and max), with any message next to the fields; hidden fields carry it to
// the server in UTC, always as well-formed ISO 8601. A preset applies when chosen (click,
// Space, Enter), not while the arrow keys pass over it. A refused request puts the form
// back to the range on screen; so does a back/forward the server could not answer, which
// also puts the URL back and says so.
(function (TSMetrics) {
  "use strict";

  var all = TSMetrics.all;
  var arrowing = false;
  var shownUrl = window.location.href;

  function controlsForm() { return document.getElementById("controls"); }

  function chartsView() { return document.querySelector("#charts[data-view-start]"); }

  function two(n) { return String(n).padStart(2, "0"); }

  function localInputValue(date) {
    return String(date.getFullYear()).padStart(4, "0") + "-" + two(date.getMonth() + 1) + "-" +
      two(date.getDate()) + "T" + two(date.getHours()) + ":" + two(date.getMinutes());
  }

  function utcValue(date) { return date.toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function rangeFields() {
    var controls = controlsForm();
    return controls ? Array.prototype.slice.call(controls.querySelectorAll("[data-utc-field]")) : [];
  }

  function labelOf(input) { return input.labels && input.labels[0] ? input.labels[0].textContent : input.name; }

  // Says `text` beside the custom range fields, marking `field` (or none) invalid.
  function rangeMessage(text, field) {
    var line = document.getElementById("custom-range-error");
    if (line) line.textContent = text || "";
    rangeFields().forEach(function (input) {
      if (text && field === input.dataset.utcField) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  }

  // The typed range, or {field, text} saying what is wrong with it.
  function typedRange() {
    var range = {};
    var fields = rangeFields();
    for (var i = 0; i < fields.length; i++) {
      var input = fields[i], field = input.dataset.utcField;
      var date = new Date(input.value);
      if (!input.value || isNaN(date)) return { field: field, text: labelOf(input) + ": enter a date and a time." };
      var low = new Date(input.min), high = new Date(input.max);
      if (date < low || date > high) {
        return { field: field, text: labelOf(input) + ": the year must be between " + low.getFullYear() +
          " and " + high.getFullYear() + "." };
      }
      range[field] = date;
    }
    if (range.end <= range.start) return { field: "end", text: "The end must be after the start." };
    return { start: range.start, end: range.end };
  }

  // The custom range fields show local time; hidden fields carry UTC to the server.
  function fillCustomRange(startIso, endIso, force) {
    var controls = controlsForm();
    if (!controls) return;
    var custom = controls.querySelector("input[name=range][value=custom]");
    if (custom && custom.checked && !force) return;
    [["start", startIso], ["end", endIso]].forEach(function (pair) {
      var hidden = controls.querySelector("input[type=hidden][name=" + pair[0] + "]");
      var local = controls.querySelector("[data-utc-field=" + pair[0] + "]");
      var iso = pair[1] || (hidden && hidden.value);
      if (!iso || !local) return;
      hidden.value = iso;
      local.value = localInputValue(new Date(iso));
    });
  }

  // Puts the controls back to the view the charts show.
  function revertControls() {
    var charts = chartsView(), controls = controlsForm();
    if (!charts || !controls) return;
    var radio = controls.querySelector("input[name=range][value='" + charts.dataset.viewRange + "']");
    if (radio) radio.checked = true;
    var granularity = controls.querySelector("select[name=granularity]");
    if (granularity && charts.dataset.viewGranularity) granularity.value = charts.dataset.viewGranularity;
    ["line", "band"].forEach(function (name) {
      var select = controls.querySelector("select[name=" + name + "]");
      var shown = charts.dataset["view" + name[0].toUpperCase() + name.slice(1)];
      if (select && shown) select.value = shown;
    });
    fillCustomRange(charts.dataset.viewStart, charts.dataset.viewEnd, true);
  }

  function isRangeInput(target) {
    return !!target && !!target.closest && !!target.closest("#controls") &&
      (target.hasAttribute("data-utc-field") || target.name === "range");
  }

  // Typing a date, choosing "Custom" or passing a preset with the arrow keys sends nothing:
  // the event stops before htmx's form trigger (this listener captures, on the document).
  function holdBack(event) {
    var target = event.target;
    if (!isRangeInput(target)) return;
    if (target.hasAttribute("data-utc-field")) {
      controlsForm().querySelector("input[name=range][value=custom]").checked = true;
      rangeMessage("");
      event.stopPropagation();
    } else if (event.type === "change" && (arrowing || target.value === "custom")) {
      event.stopPropagation();
    }
  }
  document.addEventListener("input", holdBack, true);
  document.addEventListener("change", holdBack, true);

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!isRangeInput(target) || target.name !== "range") return;
    if (event.key.indexOf("Arrow") === 0) {
      arrowing = true;
      setTimeout(function () { arrowing = false; }, 0);
    } else if (event.key === "Enter" || (event.key === " " && target.checked)) {
      // Enter on a preset, or Space on the one the arrows reached: apply it.
      event.preventDefault();
      controlsForm().requestSubmit();
    }
  }, true);

  // Apply or Enter: a custom range is checked first and written to the hidden fields.
  document.addEventListener("submit", function (event) {
    var controls = event.target;
    if (controls.id !== "controls") return;
    var custom = controls.querySelector("input[name=range][value=custom]");
    if (!custom || !custom.checked) return;
    var range = typedRange();
    if (range.text) {
      event.preventDefault();
      event.stopPropagation();
      rangeMessage(range.text, range.field);
      controls.querySelector("[data-utc-field=" + range.field + "]").focus();
      return;
    }
    rangeMessage("");
    controls.querySelector("input[type=hidden][name=start]").value = utcValue(range.start);
    controls.querySelector("input[type=hidden][name=end]").value = utcValue(range.end);
  }, true);

  // A refused request (400: the server's reason) leaves the page as it was: so does the form.
  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "controls" || event.detail.xhr.status !== 400) return;
    var detail = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html").querySelector("main p");
    var reason = detail ? detail.textContent.trim() : "bad input.";
    var field = /^(start|end):/.exec(reason);
    revertControls();
    rangeMessage("Not applied: " + reason + " The form shows the range on screen again.", field && field[1]);
  });

  function say(text) {
    var status = document.getElementById("page-status") || document.getElementById("site-status");
    if (status) status.textContent = text;
  }

  // The URL the page shows, to put back when back/forward cannot be followed.
  ["htmx:pushedIntoHistory", "htmx:replacedInHistory", "htmx:historyRestore"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      shownUrl = new URL(event.detail.path, window.location.href).href;
    });
  });
  document.addEventListener("htmx:historyCacheMissLoadError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    history.replaceState(history.state, "", shownUrl);
    revertControls();
    say("Could not go back to that view (HTTP " + status + "); this page still shows the view of its address. " +
      "Try again in a moment.");
  });

  // A refresh in place (morph.js) brings the charts' range with it, as a swap would.
  document.addEventListener("tsm:morphed", function (event) {
    if (event.detail.elt.id === "charts") fillFromCharts();
  });

  function fillFromCharts() {
    var charts = chartsView();
    if (charts) fillCustomRange(charts.dataset.viewStart, charts.dataset.viewEnd, false);
  }

  htmx.onLoad(function (root) {
    if (all(root, "#controls").length) {
      // A whole page: first load, or back/forward restored from the server.
      fillCustomRange(null, null, true);
    } else if (all(root, "#charts[data-view-start]").length) {
      fillFromCharts();
    }
  });
})(window.TSMetrics);
