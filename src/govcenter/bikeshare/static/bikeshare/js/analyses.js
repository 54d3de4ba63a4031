/*
 * Bike-share analysis charts: every element with data-chart="<key>" is drawn from
 * the page's <script type="application/json" id="bikeshare-analyses-data"> entry <key>
 * ({kind: "line"|"bar", categories: [...], series: [{name, data}]}) with the vendored
 * ECharts. A missing or null entry leaves the element empty.
 *
 * CSP: no inline script or style; heights are set through the CSSOM.
 */
(function () {
  "use strict";

  function draw(container, spec) {
    container.style.height = "320px";
    var chart = window.echarts.init(container, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 32 },
      xAxis: { type: "category", data: spec.categories },
      yAxis: { type: "value" },
      series: spec.series.map(function (s) {
        return { name: s.name, type: spec.kind === "bar" ? "bar" : "line", data: s.data, smooth: false };
      })
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
    container.dataset.rendered = String(spec.series.length);
  }

  function init() {
    var node = document.getElementById("bikeshare-analyses-data");
    if (!node || !window.echarts) {
      return;
    }
    var charts = JSON.parse(node.textContent) || {};
    document.querySelectorAll("[data-chart]").forEach(function (container) {
      var spec = charts[container.dataset.chart];
      if (spec && spec.series && spec.series.length) {
        draw(container, spec);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
