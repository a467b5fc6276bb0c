/* 送教通 console, visit log: "select all on this page" for the bulk review (no other script). */
(function () {
  "use strict";
  var all = document.getElementById("pick-all");
  if (!all) { return; }
  var picks = function () { return document.querySelectorAll('input[name="pick"]'); };
  all.addEventListener("change", function () {
    picks().forEach(function (box) { box.checked = all.checked; });
  });
  document.addEventListener("change", function (event) {
    if (event.target.name !== "pick") { return; }
    var boxes = Array.prototype.slice.call(picks());
    all.checked = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
  });
}());
