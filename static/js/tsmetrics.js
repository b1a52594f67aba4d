// The one global of TSMetrics' own scripts, window.TSMetrics, and the helpers
// they share. base.html loads this file first; charts.js (TSMetrics.charts) and
// dashboard.js add their parts to it. Nothing else is written to window: a
// test (tests/web/test_static_js.py) and the browser tests check it.
(function () {
  "use strict";

  var timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var localFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });

  window.TSMetrics = {
    // The viewer's time zone, as the pages name it.
    timeZone: timeZone,

    // A moment (a Date or epoch milliseconds) in the viewer's zone, to the minute.
    localTime: function (moment) { return localFormat.format(new Date(moment)); },

    // The same moment in UTC: what the server sent, shown on hover.
    utcLabel: function (moment) {
      return new Date(moment).toISOString().slice(0, 16).replace("T", " ") + " UTC";
    },

    // Times arrive in UTC: show them in the viewer's zone, and UTC on hover.
    localizeTimes: function (root) {
      window.TSMetrics.all(root, "time[datetime]").forEach(function (el) {
        var date = new Date(el.getAttribute("datetime"));
        if (isNaN(date)) return;
        el.textContent = localFormat.format(date);
        el.title = window.TSMetrics.utcLabel(date);
      });
      window.TSMetrics.all(root, "[data-time-zone]").forEach(function (el) { el.textContent = timeZone; });
    },

    // The elements under `root` matching `selector`, `root` itself included:
    // htmx.onLoad hands over the swapped element, which may be the match.
    all: function (root, selector) {
      var found = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll(selector)) : [];
      if (root.matches && root.matches(selector)) found.unshift(root);
      return found;
    },
  };
})();
