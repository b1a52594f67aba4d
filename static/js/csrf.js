// Sends the page's CSRF token with every htmx request, as the X-CSRF-Token
// header: the server refuses state-changing requests without it. The token
// comes from <meta name="csrf-token"> (base.html); no inline script needed.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
