// Dashboard behaviour without inline script (the Content-Security-Policy forbids it):
// local times, the custom range, auto-refresh and request status messages.
(function () {
  "use strict";

  var timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var localFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });

  function pad(n) { return String(n).padStart(2, "0"); }

  function utcLabel(date) {
    return date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function localInputValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function all(root, selector) {
    var found = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll(selector)) : [];
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  // Times arrive in UTC; show them in the viewer's zone and keep UTC on hover.
  function localizeTimes(root) {
    all(root, "time[datetime]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.textContent = localFormat.format(date);
      el.title = utcLabel(date);
    });
    all(root, "[data-time-zone]").forEach(function (el) { el.textContent = timeZone; });
  }

  function form() { return document.getElementById("controls"); }

  // The custom range fields show local time; hidden fields carry UTC to the server.
  function fillCustomRange(startIso, endIso, force) {
    var controls = form();
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

  function onLocalRangeEdit(event) {
    var field = event.target.getAttribute && event.target.getAttribute("data-utc-field");
    if (!field || !event.target.value) return;
    var controls = form();
    var date = new Date(event.target.value);
    if (isNaN(date)) return;
    controls.querySelector("input[type=hidden][name=" + field + "]").value =
      date.toISOString().replace(/\.\d{3}Z$/, "Z");
    controls.querySelector("input[name=range][value=custom]").checked = true;
  }
  // Capture: the hidden fields must be right before htmx serialises the form on "change".
  document.addEventListener("input", onLocalRangeEdit, true);
  document.addEventListener("change", onLocalRangeEdit, true);

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

  function refreshNow() {
    lastRefresh = Date.now();
    all(document, "[data-refresh]").forEach(function (el) {
      // Only the outermost refreshable element asks: it brings its charts back with it.
      if (!el.parentElement.closest("[data-refresh]")) htmx.trigger(el, "refresh-charts");
    });
    schedule();
  }

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
  document.addEventListener("change", function (event) {
    if (event.target.id !== "auto-refresh") return;
    if (!event.target.checked) document.documentElement.dataset.autoRefresh = "off";
    schedule();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-refresh-now]")) refreshNow();
  });

  // Request status: busy state for assistive technology, errors said in words.
  function say(text) {
    var status = document.getElementById("page-status");
    if (status) status.textContent = text;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    event.detail.target && event.detail.target.setAttribute("aria-busy", "true");
    if (event.detail.elt && event.detail.elt.id === "controls") lastRefresh = Date.now();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.detail.target && event.detail.target.removeAttribute("aria-busy");
    if (event.detail.successful) say("");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 400) {
      // The error page says which parameter is wrong; DOMParser runs no script.
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var detail = page.querySelector("main p");
      say("That choice cannot be shown: " + (detail ? detail.textContent : "bad input."));
    } else {
      say("Could not update (HTTP " + xhr.status + "); the next refresh tries again.");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    say("The server could not be reached; the next refresh tries again.");
  });

  htmx.onLoad(function (root) {
    localizeTimes(root);
    if (all(root, "#controls").length) {
      // A whole page: first load, or back/forward restored from the server.
      fillCustomRange(null, null, true);
    } else {
      all(root, "#charts[data-view-start]").forEach(function (charts) {
        fillCustomRange(charts.getAttribute("data-view-start"), charts.getAttribute("data-view-end"), false);
      });
    }
    if (root === document.body) schedule();
  });
})();
