/*
 * The query builder page (statistic 10): draw a polygon on the district map (ECharts geo, vendored;
 * GCJ-02 like the district files) — click adds a vertex, double-click closes the ring — into the
 * hidden input "polygon" as a GeoJSON Polygon; show only the chosen source's measures, dimensions
 * and the filters its rows can take (the option's data-filters; the others are disabled, so not sent).
 * CSP: no inline script or style.
 */
(function () {
  "use strict";
  var form = document.querySelector("[data-query-form]");
  if (!form) { return; }
  var source = form.querySelector("[name=source]");
  function showSource() {
    form.querySelectorAll("[data-source-fields]").forEach(function (el) {
      var on = el.getAttribute("data-source-fields") === source.value;
      el.hidden = !on;
      el.querySelectorAll("input").forEach(function (i) { i.disabled = !on; });
    });
    var chosen = source.options[source.selectedIndex];
    var allowed = ((chosen && chosen.getAttribute("data-filters")) || "").split(" ");
    form.querySelectorAll("[data-filter]").forEach(function (el) {
      var on = allowed.indexOf(el.getAttribute("data-filter")) >= 0;
      el.hidden = !on;
      el.querySelectorAll("input, select").forEach(function (i) { i.disabled = !on; });
    });
  }
  source.addEventListener("change", showSource);
  showSource();

  var input = form.querySelector("[data-polygon]");
  var kind = form.querySelector("[data-area-kind]");
  var el = document.getElementById("query-map");
  if (!el || !window.echarts) { return; }
  el.style.height = "420px";
  var points = [], closed = false, chart = null;
  function sync() {
    if (closed && points.length >= 3) {
      var ring = points.concat([points[0]]);
      input.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
      kind.value = "polygon";
    } else {
      input.value = "";
    }
  }
  function draw() {
    if (!chart) { return; }
    var line = closed ? points.concat([points[0]]) : points;
    chart.setOption({ series: [
      { type: "lines", coordinateSystem: "geo", polyline: true, data: line.length > 1 ? [{ coords: line }] : [],
        lineStyle: { color: "#d63939", width: 2 } },
      { type: "scatter", coordinateSystem: "geo", symbolSize: 6, data: points, itemStyle: { color: "#d63939" } }
    ] });
  }
  fetch(el.dataset.geojsonUrl, { credentials: "same-origin" }).then(function (r) {
    if (!r.ok) { throw new Error("HTTP " + r.status); }
    return r.json();
  }).then(function (geo) {
    window.echarts.registerMap("query-districts", geo);
    chart = window.echarts.init(el);
    chart.setOption({
      title: { text: el.dataset.hint, textStyle: { fontSize: 12, color: "#667382" } },
      geo: { map: "query-districts", roam: true, aspectScale: 0.77, label: { show: true, fontSize: 10 },
        itemStyle: { areaColor: "#f1f5f9", borderColor: "#c8d3e1" } },
      series: []
    });
    chart.getZr().on("click", function (e) {
      if (closed) { points = []; closed = false; }
      var c = chart.convertFromPixel({ geoIndex: 0 }, [e.offsetX, e.offsetY]);
      if (c) { points.push([Math.round(c[0] * 1e6) / 1e6, Math.round(c[1] * 1e6) / 1e6]); }
      sync(); draw();
    });
    chart.getZr().on("dblclick", function () {
      if (points.length >= 3) { closed = true; }
      sync(); draw();
    });
    if (input.value) {
      try { var g = JSON.parse(input.value); points = g.coordinates[0].slice(0, -1); closed = true; draw(); } catch (err) { points = []; }
    }
    window.addEventListener("resize", function () { chart.resize(); });
    // The map was hidden (a source without segments) when drawn: size it when it shows.
    source.addEventListener("change", function () { chart.resize(); });
  }).catch(function () { el.textContent = el.dataset.errorText || ""; });
  form.querySelector("[data-clear-polygon]").addEventListener("click", function () {
    points = []; closed = false; sync(); draw();
  });
}());
