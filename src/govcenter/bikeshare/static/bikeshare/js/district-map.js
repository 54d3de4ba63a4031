/*
 * Shared by the bike-share map pages (overview, fences, analyses): Beijing's districts as an
 * ECharts map under everything else.
 *
 * govcenterDistrictMap(container, name, draw) fetches the GeoJSON at the container's
 * data-geojson-url, registers it with ECharts as `name`, creates the chart and calls
 * draw(chart, collection), which sets the options and returns how many items it drew
 * (written to data-rendered, which the browser tests wait for). The chart follows the
 * window's size; if anything fails, the container shows its data-error-text instead.
 *
 * CSP: no inline script or style.
 */
(function () {
  "use strict";

  window.govcenterDistrictMap = function (container, name, draw) {
    return fetch(container.dataset.geojsonUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json, application/json" }
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (collection) {
        window.echarts.registerMap(name, collection);
        var chart = window.echarts.init(container, null, { renderer: "canvas" });
        var drawn = draw(chart, collection);
        window.addEventListener("resize", function () {
          chart.resize();
        });
        container.dataset.rendered = String(drawn);
        return chart;
      })
      .catch(function () {
        container.classList.add("district-map-error", "text-secondary");
        container.textContent = container.dataset.errorText || "";
      });
  };
})();
