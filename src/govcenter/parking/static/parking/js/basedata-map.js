/*
 * District map of the parking base data: the district boundaries (GeoJSON, GCJ-02, from the
 * dashboard endpoint) as an ECharts geo component, with the caller's segments and spaces
 * (data-points-url, GeoJSON points, GCJ-02, already limited to the caller's data scope)
 * drawn on it as scatter series. Zoom and pan are on.
 *
 * CSP: no inline script or style; the tooltip uses richText mode (drawn on the canvas).
 */
(function () {
  "use strict";

  function getJSON(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json, application/json" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function points(collection, kind) {
    return collection.features
      .filter(function (f) {
        return f.properties.kind === kind;
      })
      .map(function (f) {
        return { name: f.properties.code, value: f.geometry.coordinates };
      });
  }

  function render(container, districts, collection) {
    window.echarts.registerMap("parking-districts", districts);
    var chart = window.echarts.init(container, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}" },
      legend: { bottom: 0, data: [container.dataset.segmentLabel, container.dataset.spaceLabel] },
      geo: {
        map: "parking-districts",
        roam: true,
        aspectScale: 0.77, // cos(39.9°)
        layoutCenter: ["50%", "50%"],
        layoutSize: "95%",
        label: { show: true, fontSize: 10, color: "#667382" },
        labelLayout: { hideOverlap: true },
        itemStyle: { areaColor: "#f1f5f9", borderColor: "#c8d3e1" },
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#e7eef7" } }
      },
      series: [
        {
          name: container.dataset.spaceLabel,
          type: "scatter",
          coordinateSystem: "geo",
          large: true,
          symbolSize: 3,
          itemStyle: { color: "#2fb344" },
          data: points(collection, "space")
        },
        {
          name: container.dataset.segmentLabel,
          type: "scatter",
          coordinateSystem: "geo",
          symbolSize: 8,
          itemStyle: { color: "#206bc4" },
          data: points(collection, "segment")
        }
      ]
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
    container.dataset.rendered = String(collection.features.length);
  }

  function init() {
    var container = document.getElementById("parking-base-map");
    if (!container || !window.echarts) {
      return;
    }
    Promise.all([getJSON(container.dataset.geojsonUrl), getJSON(container.dataset.pointsUrl)])
      .then(function (results) {
        render(container, results[0], results[1]);
      })
      .catch(function () {
        container.classList.add("district-map-error", "text-secondary");
        container.textContent = container.dataset.errorText || "";
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
