// Call Connect console: progressive enhancements only; every page works
// without this file.
"use strict";

// Copy buttons: <button data-copy="input-id">.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("button[data-copy]");
  if (!btn) return;
  var field = document.getElementById(btn.getAttribute("data-copy"));
  if (!field) return;
  field.select();
  // The page says "copied" in its own language.
  var done = function () { btn.textContent = btn.getAttribute("data-copied") || btn.textContent; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});

// The monitor's live updates: while the box is ticked and the page is
// visible, fetch the first page's rows every 3 seconds and put them in place.
// What it announces comes from the box's data-* attributes, in the page's
// language (%s and %d are filled in order).
(function () {
  var box = document.getElementById("live");
  var body = document.getElementById("exchanges");
  var status = document.getElementById("live-status");
  if (!box || !body) return;
  var say = function (name) {
    var args = Array.prototype.slice.call(arguments, 1);
    return (box.getAttribute("data-" + name) || "").replace(/%[sd]/g, function () { return String(args.shift()); });
  };
  var ids = function () {
    return Array.prototype.map.call(body.querySelectorAll("tr[data-id]"), function (tr) { return tr.getAttribute("data-id"); });
  };
  var busy = false;
  var poll = function () {
    if (!box.checked || document.hidden || busy) return;
    busy = true;
    fetch(box.getAttribute("data-rows"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (r.status === 303 || r.redirected) throw new Error(say("signed-out"));
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var before = ids();
        body.innerHTML = html;
        var fresh = ids().filter(function (id) { return before.indexOf(id) < 0; }).length;
        // Announce only what changed: a screen reader need not hear every poll.
        if (fresh > 0) {
          var at = new Date().toLocaleTimeString(document.documentElement.lang || undefined);
          status.textContent = fresh > 1 ? say("new-many", fresh, at) : say("new-one", at);
        }
      })
      .catch(function (err) { status.textContent = say("paused", err.message); })
      .then(function () { busy = false; });
  };
  setInterval(poll, 3000);
  box.addEventListener("change", function () {
    status.textContent = box.checked ? say("on") : say("off");
    if (box.checked) poll();
  });
})();
