// Starts Swagger UI on the page's own OpenAPI document (kept out of the template for the CSP).
(function () {
  "use strict";
  var holder = document.getElementById("swagger-ui");
  if (!holder || typeof SwaggerUIBundle === "undefined") { return; }
  SwaggerUIBundle({ url: holder.dataset.specUrl, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });
}());
