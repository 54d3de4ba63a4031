/*
 * Statistics dashboard charts (Apache ECharts, vendored). Data comes from the page's
 * <script type="application/json" id="stats-data">. CSP: no inline script or style
 * attributes; heights are set through the CSSOM and tooltips use ECharts' richText mode.
 */
(function () {
  "use strict";
  var node = document.getElementById("stats-data");
  if (!node || !window.echarts) { return; }
  var data = JSON.parse(node.textContent);
  var t = data.trend, d = data.districts, L = data.labels;

  function line(name, values, axis) {
    return { name: name, type: "line", smooth: true, yAxisIndex: axis || 0, data: values, connectNulls: false };
  }
  function bar(name, values, axis) {
    return { name: name, type: "bar", yAxisIndex: axis || 0, data: values };
  }
  function base(x, series, twoAxes) {
    return {
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0 },
      grid: { left: 48, right: twoAxes ? 48 : 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: x },
      yAxis: twoAxes ? [{ type: "value" }, { type: "value" }] : [{ type: "value" }],
      series: series
    };
  }
  var options = {
    trend: base(t.dates, [bar(L.orders, t.orders, 1), line(L.due, t.due), line(L.paid, t.paid)], true),
    payment_rate: base(t.dates, [line(L.payment_rate, t.payment_rate)], false),
    occupancy: base(d.names, [bar(L.occupancy, d.occupancy), line(L.turnover, d.turnover, 1)], true),
    arrears: base(t.dates, [bar(L.arrears, t.arrears), bar(L.penalties, t.penalties), bar(L.complaints, t.complaints)], false)
  };
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    el.style.height = "320px";
    var chart = window.echarts.init(el);
    chart.setOption(options[el.dataset.chart]);
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
