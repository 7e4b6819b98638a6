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

// Mass-action dialog: open when content arrives, close on the close buttons,
// give focus back to the button that opened it (Escape closes natively).
var dialogOpener = null;
document.addEventListener("htmx:beforeRequest", function (event) {
  if (event.detail.target && event.detail.target.id === "dialog-body") {
    var dialog = document.getElementById("dialog");
    if (dialog && !dialog.open) { dialogOpener = document.activeElement; }
  }
});
document.addEventListener("htmx:afterSwap", function (event) {
  if (event.detail.target && event.detail.target.id === "dialog-body") {
    var dialog = document.getElementById("dialog");
    if (!dialog.open) { dialog.showModal(); }
    var first = dialog.querySelector("[autofocus], select, input:not([type=hidden]), button.primary");
    if (first) { first.focus(); }
  }
});
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-close-dialog]")) {
    var dialog = event.target.closest("dialog");
    if (dialog) { dialog.close(); }
  }
});
document.addEventListener("close", function (event) {
  if (event.target.id === "dialog") {
    document.getElementById("dialog-body").innerHTML = "";
    if (dialogOpener && document.body.contains(dialogOpener)) { dialogOpener.focus(); }
  }
}, true);
// "Select every thirdparty on this page".
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-select-page]")) {
    var form = event.target.closest("form");
    form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = event.target.checked; });
  }
});
