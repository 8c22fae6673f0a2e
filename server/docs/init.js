// Swagger UI for billing-api: both specs from this server, no CDN, and the
// API token kept across reloads so "Try it out" keeps working.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    urls: [
      { url: "../openapi.json", name: "Billing and Usage (tenant API)" },
      { url: "../admin/openapi.json", name: "Operator API" }
    ],
    "urls.primaryName": "Billing and Usage (tenant API)",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
