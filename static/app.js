// Behaviour that htmx attributes cannot express; loaded with defer, no inline script (CSP).
document.addEventListener("htmx:beforeRequest", function (event) {
  // A form cannot be submitted twice while its request runs.
  var form = event.detail.elt.closest && event.detail.elt.closest("form");
  if (form) {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  }
});
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail.elt.closest && event.detail.elt.closest("form");
  if (form) {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  }
});
