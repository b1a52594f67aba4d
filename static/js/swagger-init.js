// Starts Swagger UI on the spec named by the page, without inline script (CSP).
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
  });
})();
