// The pages' behaviour, without inline script (the Content-Security-Policy forbids
// it): local times, the custom range, auto-refresh, the results panel following the
// page's range, the management forms' answers, and request status in words.
// The charts themselves are charts.js's.
(function (TSMetrics) {
  "use strict";

  var all = TSMetrics.all;

  // The first paragraph of an error page, which says why; DOMParser runs no script.
  function errorDetail(xhr) {
    var detail = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector("main p");
    return detail ? detail.textContent : null;
  }

  function form() { return document.getElementById("controls"); }

  // Links such as "Show the last 7 days" set a control and let the form do the rest.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-form-set]");
    var controls = form();
    if (!link || !controls) return;
    var name = link.getAttribute("data-form-set");
    var value = link.getAttribute("data-form-value");
    var inputs = controls.querySelectorAll("[name=" + name + "]");
    var target = null;
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.type === "radio") {
        if (input.value === value) { input.checked = true; target = input; }
      } else if (input.tagName === "SELECT") {
        input.value = value; target = input;
      }
    });
    if (!target) return;
    event.preventDefault();
    target.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Auto-refresh: every 30 s while switched on and the tab is visible.
  var timer = null;
  var lastRefresh = Date.now();

  function autoRefresh() { return document.getElementById("auto-refresh"); }

  function autoRefreshOn() {
    var box = autoRefresh();
    return !!box && box.checked;
  }

  // The results panel refreshes once the charts have (or failed to): its statistics then
  // never hold up the charts, which they would on a busy server.
  var panelPending = false;

  function refreshPanel() {
    var panel = document.getElementById("comparison");
    if (panelPending && panel && panel.hasAttribute("data-refresh")) htmx.trigger(panel, "refresh-charts");
    panelPending = false;
  }

  function refreshNow() {
    lastRefresh = Date.now();
    // How many refreshes this page started: what "paused" is checked against.
    var root = document.documentElement;
    root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
    var charts = document.getElementById("charts");
    panelPending = true;
    all(document, "[data-refresh]").forEach(function (el) {
      // Only the outermost refreshable element asks: it brings its charts back with it.
      if (el.parentElement.closest("[data-refresh]")) return;
      if (el.id === "comparison" && charts) return;
      htmx.trigger(el, "refresh-charts");
    });
    if (!charts) refreshPanel();
    schedule();
  }

  // The charts' answer is in (swapped, merged in place, or refused): the panel's turn. A
  // swapped #charts is detached when htmx reports it, so either report will do.
  ["htmx:afterRequest", "htmx:afterSettle", "tsm:morphed"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var elt = event.detail && event.detail.elt;
      if (panelPending && ((elt && elt.id === "charts") || event.target.id === "charts")) setTimeout(refreshPanel, 0);
    });
  });

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (!autoRefreshOn() || document.hidden) return;
    var period = 1000 * Number(autoRefresh().dataset.seconds || 30);
    var wait = Math.max(0, period - (Date.now() - lastRefresh));
    timer = setTimeout(refreshNow, wait);
    document.documentElement.dataset.autoRefresh = "on";
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) document.documentElement.dataset.autoRefresh = "paused";
    schedule();
  });
  // The choice outlives the page: it is kept in local storage (absent means on).
  var AUTO_REFRESH_KEY = "tsmetrics.autoRefresh";

  function storage() {
    try { return window.localStorage; } catch (error) { return null; }  // storage may be blocked
  }

  function restoreAutoRefresh() {
    var box = autoRefresh(), store = storage();
    if (box && store && store.getItem(AUTO_REFRESH_KEY) === "off") box.checked = false;
    if (box && !box.checked) document.documentElement.dataset.autoRefresh = "off";
  }

  document.addEventListener("change", function (event) {
    if (event.target.id !== "auto-refresh") return;
    var store = storage();
    if (store) store.setItem(AUTO_REFRESH_KEY, event.target.checked ? "on" : "off");
    if (!event.target.checked) document.documentElement.dataset.autoRefresh = "off";
    schedule();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-refresh-now]")) refreshNow();
  });

  // The range a page URL shows, written as the results panel's data-view is.
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

  // The management forms (templates/dashboard/manage/, [data-manage]). Their 422
  // (invalid fields) and 409 (a duplicate, an illegal status move) answers carry the
  // form again with a message next to each field, so they swap like a success; the
  // page's htmx-config (base.html) swaps no other 4xx.
  function manageForm(event) {
    var elt = event.detail.elt;
    return elt && elt.closest ? elt.closest("[data-manage]") : null;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!manageForm(event)) return;
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 503) {
      // The page's config swaps 503 (the charts' inline message); for a form it is an error.
      event.detail.shouldSwap = false;
      event.detail.isError = true;
    }
  });

  // Focus follows the forms: into a form opened in place, to the first invalid field after a
  // refused submission, to the confirmation after a success. Field checks (which swap one
  // field's wrapper) leave the focus where the user is typing.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || /-field$/.test(target.id)) return;
    // An outerHTML swap leaves the old element in the event: take the one now in the page.
    if (!target.isConnected && target.id) target = document.getElementById(target.id);
    if (!target) return;
    var holder = target.matches("[data-manage]") ? target : target.querySelector("[data-manage]");
    if (!holder) return;
    var invalid = holder.querySelector("[aria-invalid=true]");
    var done = holder.querySelector(".notice-success");
    var first = holder.querySelector("input:not([type=hidden]), textarea, select");
    var focus = invalid || (target !== holder || !done ? first : done);
    if (focus === done) done.setAttribute("tabindex", "-1");
    if (focus) focus.focus();
  });

  // Cancel closes a form opened in place (and focuses what opened it); elsewhere it is a link.
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-close-form]");
    var slot = cancel && cancel.closest("[id$='-slot']");
    if (!slot) return;
    event.preventDefault();
    slot.replaceChildren();
    var opener = document.querySelector("[hx-target='#" + slot.id + "']");
    if (opener) opener.focus();
  });

  // Request status: busy state for assistive technology, failures said in words: in
  // the form's status line for a management form (which keeps what was typed), else
  // in the page's.
  function sayOnPage(text) {
    var status = document.getElementById("page-status");
    if (status) status.textContent = text;
  }

  function sayInForm(holder, text) {
    var line = holder.querySelector("[data-form-status]");
    if (!line) return;
    line.textContent = text;
    line.setAttribute("role", "alert");
    line.classList.add("field-error");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    event.detail.target && event.detail.target.setAttribute("aria-busy", "true");
    if (event.detail.elt && event.detail.elt.id === "controls") lastRefresh = Date.now();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.detail.target && event.detail.target.removeAttribute("aria-busy");
    if (event.detail.successful) sayOnPage("");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var detail = errorDetail(xhr);
    var holder = manageForm(event);
    if (holder) {
      sayInForm(holder, "Not saved (HTTP " + xhr.status + ")" + (detail ? ": " + detail : "."));
    } else if (xhr.status === 400 && event.detail.elt && event.detail.elt.id === "controls") {
      return;  // range.js says why, next to the fields, and puts the form back
    } else if (xhr.status === 400) {
      sayOnPage("That choice cannot be shown: " + (detail || "bad input."));
    } else {
      sayOnPage("Could not update (HTTP " + xhr.status + "); the next refresh tries again.");
    }
  });
  document.addEventListener("htmx:sendError", function (event) {
    var holder = manageForm(event);
    if (holder) sayInForm(holder, "The server could not be reached; nothing was saved.");
    else sayOnPage("The server could not be reached; the next refresh tries again.");
  });

  htmx.onLoad(function (root) {
    TSMetrics.localizeTimes(root);
    // For bench_dashboard.py: navigation start until the scorecard is on screen.
    var html = document.documentElement;
    if (!html.dataset.scorecardDrawnMs && all(root, "table.scorecard").length) {
      requestAnimationFrame(function () { html.dataset.scorecardDrawnMs = String(Math.round(performance.now())); });
    }
    if (root === document.body) {
      restoreAutoRefresh();
      schedule();
    }
  });
})(window.TSMetrics);
