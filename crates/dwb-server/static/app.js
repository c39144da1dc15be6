// dwb portal behaviour: copy buttons and confirmations. Loaded from /static
// because the content security policy forbids inline script.
"use strict";
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  var src = document.getElementById(btn.getAttribute("data-copy"));
  if (!src) return;
  var text = src.value !== undefined ? src.value : src.textContent;
  var done = function () {
    var old = btn.textContent;
    btn.textContent = "Copied";
    setTimeout(function () { btn.textContent = old; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { src.select && src.select(); });
  } else if (src.select) {
    src.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* selected for manual copy */ }
  }
});
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});
// Radio buttons with data-toggle show the box they name and hide their siblings' boxes.
function syncToggles(root) {
  root.querySelectorAll("input[type=radio][data-toggle]").forEach(function (r) {
    var box = document.getElementById(r.getAttribute("data-toggle"));
    if (box) box.classList.toggle("is-hidden", !r.checked);
  });
}
document.addEventListener("change", function (ev) {
  if (ev.target.matches && ev.target.matches("input[type=radio][data-toggle]")) {
    syncToggles(ev.target.form || document);
  }
});
// Links with data-dialog open that <dialog>; data-close closes it.
document.addEventListener("click", function (ev) {
  var open = ev.target.closest("[data-dialog]");
  if (open) {
    var d = document.getElementById(open.getAttribute("data-dialog"));
    if (d && d.showModal) { ev.preventDefault(); if (!d.open) d.showModal(); }
    return;
  }
  var close = ev.target.closest("[data-close]");
  if (close) {
    var c = document.getElementById(close.getAttribute("data-close"));
    if (c && c.close && c.open) { ev.preventDefault(); c.close(); }
  }
});
// Forms with data-upload send their file with a progress bar, then follow the answer.
// data-errors names the box of a refused file, which goes once a new upload starts.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var barId = form.getAttribute && form.getAttribute("data-upload");
  // Not an upload form, or the person said no to its data-confirm question.
  if (!barId || ev.defaultPrevented || !window.XMLHttpRequest || !window.FormData) return;
  ev.preventDefault();
  // One upload at a time on a page: a second click while a file goes up
  // would write it twice, or race the other form.
  if (document.querySelector("form[data-uploading]")) return;
  form.dataset.uploading = "1";
  var buttons = document.querySelectorAll("form[data-upload] button[type=submit]");
  var busy = function (on) { buttons.forEach(function (b) { b.disabled = on; }); };
  busy(true);
  var errorsId = form.getAttribute("data-errors");
  var errors = errorsId && document.getElementById(errorsId);
  if (errors) errors.classList.add("is-hidden");
  var bar = document.getElementById(barId);
  var xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  if (bar) { bar.classList.remove("is-hidden"); bar.value = 0; }
  xhr.upload.addEventListener("progress", function (e) {
    if (bar && e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
  });
  xhr.addEventListener("load", function () {
    if (xhr.status < 400 && xhr.responseURL) { window.location.assign(xhr.responseURL); return; }
    document.open(); document.write(xhr.responseText); document.close();
  });
  xhr.addEventListener("error", function () {
    delete form.dataset.uploading; busy(false);
    if (bar) bar.classList.add("is-hidden");
    if (errors) errors.classList.remove("is-hidden");
    alert("The upload failed: the server could not be reached.");
  });
  xhr.send(new FormData(form));
});
// Back to a page kept in the browser's cache after an upload: ready for the next one.
window.addEventListener("pageshow", function (ev) {
  if (!ev.persisted) return;
  document.querySelectorAll("form[data-uploading]").forEach(function (form) {
    delete form.dataset.uploading;
    var bar = document.getElementById(form.getAttribute("data-upload"));
    if (bar) bar.classList.add("is-hidden");
  });
  document.querySelectorAll("form[data-upload] button[type=submit]").forEach(function (b) { b.disabled = false; });
});
