/* Draws the console's charts: each <div data-chart="ID"> gets the ECharts option held in the
   <script type="application/json" id="ID"> block (server/console/charts.py makes them). The
   text is drawn in the page's own font stack, so the served web font applies to charts too. */
(function () {
  "use strict";
  function draw() {
    var font = window.getComputedStyle(document.body).fontFamily;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
      var option = spec.option;
      option.textStyle = Object.assign({ fontFamily: font }, option.textStyle || {});
      el.style.height = spec.height + "px";
      var chart = window.echarts.init(el, null, { renderer: "svg", locale: "ZH" });
      chart.setOption(option);
      el.classList.add("drawn");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
