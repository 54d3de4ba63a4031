/*
 * Monthly assessment chart: one stacked bar per operator, one segment per indicator
 * (its weighted points), so the bar's length is the total. Data come from the page's
 * <script type="application/json" id="bikeshare-assessment-data">
 * ({operators: [name], series: [{name, data: [weighted]}], total_label}).
 *
 * CSP: no inline script or style; sizes are set through the CSSOM.
 */
(function () {
  "use strict";

  function init() {
    var container = document.getElementById("bikeshare-assessment-chart");
    var node = document.getElementById("bikeshare-assessment-data");
    if (!container || !node || !window.echarts) {
      return;
    }
    var payload = JSON.parse(node.textContent);
    if (!payload.operators || !payload.operators.length) {
      return;
    }
    container.style.height = Math.max(220, 60 + payload.operators.length * 48) + "px";
    var chart = window.echarts.init(container, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "value", max: 100, name: payload.total_label },
      yAxis: { type: "category", data: payload.operators, inverse: true },
      series: payload.series.map(function (s) {
        return {
          name: s.name,
          type: "bar",
          stack: "total",
          data: s.data.map(function (v) { return Math.round(v * 100) / 100; })
        };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
