// Sends the page's CSRF token with every htmx request, as the X-CSRF-Token
// header: the server (tsmetrics/security/csrf.py) refuses state-changing requests
// without it. The token comes from <meta name="csrf-token"> (base.html). A file of
// its own: it is the security layer's half in the browser, loaded on every page.
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
  });
})();
