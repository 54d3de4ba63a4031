/*
 * Charts of a parking statistic page (Apache ECharts, vendored). Data: <script type="application/json"
 * id="stats-charts"> — a list of {id, title, type: bar|line|pie, categories, series: [{name, data}]},
 * drawn into [data-chart=id]; shared: true puts every series on one value axis. CSP: no inline script or style; heights through the CSSOM.
 */
(function () {
  "use strict";
  var node = document.getElementById("stats-charts");
  if (!node || !window.echarts) { return; }
  var specs = JSON.parse(node.textContent), byId = {};
  specs.forEach(function (s) { byId[s.id] = s; });
  function option(s) {
    if (s.type === "pie") {
      return {
        tooltip: { trigger: "item", renderMode: "richText" },
        legend: { top: 0, type: "scroll" },
        series: [{ type: "pie", radius: ["35%", "65%"], top: 24, data: s.categories.map(function (c, i) {
          return { name: c, value: s.series[0].data[i] };
        }) }]
      };
    }
    var two = s.series.length > 1 && !s.shared;  // shared: one axis (a period vs its baseline)
    return {
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 56, right: two ? 56 : 16, top: 36, bottom: 28, containLabel: true },
      xAxis: { type: "category", data: s.categories },
      yAxis: two ? [{ type: "value" }, { type: "value" }] : [{ type: "value" }],
      series: s.series.map(function (x, i) {
        return { name: x.name, type: s.type, yAxisIndex: two ? i : 0, smooth: s.type === "line", data: x.data };
      })
    };
  }
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = byId[el.getAttribute("data-chart")];
    if (!spec) { return; }
    el.style.height = "300px";
    var chart = window.echarts.init(el);
    chart.setOption(option(spec));
    window.addEventListener("resize", function () { chart.resize(); });
  });
}());
