/*
 * 订单情况统计 charts (Apache ECharts, vendored). Data: <script type="application/json"
 * id="orders-stats-data">. CSP: no inline script or style; heights through the CSSOM.
 */
(function () {
  "use strict";
  var node = document.getElementById("orders-stats-data");
  if (!node || !window.echarts) { return; }
  var d = JSON.parse(node.textContent), L = d.labels;
  function axes(x, series, two) {
    return {
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 48, right: two ? 48 : 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: x },
      yAxis: two ? [{ type: "value" }, { type: "value" }] : [{ type: "value" }],
      series: series
    };
  }
  var options = {
    hours: axes(d.hours, [
      { name: L.orders, type: "bar", data: d.hour_orders },
      { name: L.occupancy, type: "line", yAxisIndex: 1, smooth: true, data: d.hour_occupancy }
    ], true),
    duration: axes(d.buckets, [{ name: L.orders, type: "bar", data: d.bucket_orders }], false),
    rows: axes(d.rows, [
      { name: L.orders, type: "bar", data: d.row_orders },
      { name: L.paid, type: "bar", yAxisIndex: 1, data: d.row_paid_yuan }
    ], true),
    day_night: {
      tooltip: { trigger: "item", renderMode: "richText" },
      legend: { top: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], data: [
        { name: L.day, value: d.day_night[0] }, { name: L.night, value: d.day_night[1] }
      ] }]
    }
  };
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    el.style.height = "300px";
    var chart = window.echarts.init(el);
    chart.setOption(options[el.getAttribute("data-chart")]);
    window.addEventListener("resize", function () { chart.resize(); });
  });
}());
