// Starts Swagger UI on /docs from files this server ships (no CDN: the CSP allows only 'self').
// Kept out of docs.html because the CSP forbids inline scripts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the public validator is elsewhere; nothing leaves this server
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
