/*
 * Bike-share overview map: Beijing's districts (GeoJSON from data-geojson-url, GCJ-02)
 * coloured by the number of bikes in the live picture. The counts come from the page's
 * <script type="application/json" id="bikeshare-overview-data"> ({districts: {code: n},
 * label}) and cover only the caller's data scope; districts without a count (outside the
 * scope) stay grey.
 *
 * CSP: no inline script or style; the tooltip uses ECharts' richText mode.
 */
(function () {
  "use strict";

  function init() {
    var container = document.getElementById("bikeshare-overview-map");
    var node = document.getElementById("bikeshare-overview-data");
    if (!container || !node || !window.echarts) {
      return;
    }
    var payload = JSON.parse(node.textContent);
    var counts = payload.districts || {};
    window.govcenterDistrictMap(container, "bikeshare-overview", function (chart, collection) {
      var max = 0;
      var data = collection.features
        .filter(function (f) {
          return Object.prototype.hasOwnProperty.call(counts, f.properties.code);
        })
        .map(function (f) {
          var n = counts[f.properties.code];
          max = Math.max(max, n);
          return { name: f.properties.name, code: f.properties.code, value: n };
        });
      chart.setOption({
        tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}: {c}" },
        visualMap: {
          min: 0,
          max: Math.max(max, 1),
          calculable: true,
          left: 0,
          bottom: 0,
          text: [String(Math.max(max, 1)), "0"],
          inRange: { color: ["#e7f0fb", "#206bc4"] }
        },
        series: [
          {
            name: payload.label,
            type: "map",
            map: "bikeshare-overview",
            nameProperty: "name",
            roam: false,
            aspectScale: 0.77, // cos(39.9°)
            layoutCenter: ["50%", "50%"],
            layoutSize: "95%",
            selectedMode: false,
            label: { show: true, fontSize: 10 },
            labelLayout: { hideOverlap: true },
            itemStyle: { areaColor: "#dfe5ef", borderColor: "#ffffff", borderWidth: 1 },
            emphasis: { itemStyle: { areaColor: "#f59f00" } },
            data: data
          }
        ]
      });
      return data.length;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
