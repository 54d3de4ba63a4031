/*
 * Dashboard map of Beijing's districts: fetches the GeoJSON FeatureCollection the
 * container names (data-geojson-url, GCJ-02 lon/lat), registers it with ECharts and
 * draws it. Districts in the user's data scope are highlighted. Clicking a district
 * dispatches a "govcenter:district-click" event ({code, name}) for pages to filter on.
 *
 * CSP: no inline script or style. The tooltip uses ECharts' richText mode (drawn on
 * the canvas) because the HTML tooltip writes inline style attributes.
 */
(function () {
  "use strict";

  var IN_SCOPE = "#206bc4";
  var OUT_OF_SCOPE = "#dfe5ef";

  function showError(container) {
    container.classList.add("district-map-error", "text-secondary");
    container.textContent = container.dataset.errorText || "";
  }

  function render(container, collection) {
    var mapName = container.dataset.mapName || "beijing-districts";
    window.echarts.registerMap(mapName, collection);
    var data = collection.features.map(function (feature) {
      var inScope = Boolean(feature.properties.in_scope);
      return {
        name: feature.properties.name,
        code: feature.properties.code,
        value: inScope ? 1 : 0,
        itemStyle: { areaColor: inScope ? IN_SCOPE : OUT_OF_SCOPE },
        label: { color: inScope ? "#ffffff" : "#1d273b" }
      };
    });
    var chart = window.echarts.init(container, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}" },
      series: [
        {
          type: "map",
          map: mapName,
          nameProperty: "name",
          roam: false,
          aspectScale: 0.77, // cos(39.9°): keeps Beijing's proportions on a lon/lat grid
          layoutCenter: ["50%", "50%"],
          layoutSize: "95%",
          selectedMode: false,
          label: { show: true, fontSize: 11 },
          labelLayout: { hideOverlap: true }, // the small central districts would collide
          itemStyle: { borderColor: "#ffffff", borderWidth: 1 },
          emphasis: {
            label: { show: true, color: "#ffffff", fontWeight: "bold" },
            itemStyle: { areaColor: "#f59f00" }
          },
          data: data
        }
      ]
    });
    chart.on("click", function (params) {
      if (!params.data) {
        return;
      }
      container.dispatchEvent(
        new CustomEvent("govcenter:district-click", {
          bubbles: true,
          detail: { code: params.data.code, name: params.data.name }
        })
      );
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
    container.dataset.rendered = String(collection.features.length);
  }

  function init() {
    var container = document.getElementById("district-map");
    if (!container || !window.echarts) {
      return;
    }
    fetch(container.dataset.geojsonUrl, {
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
        render(container, collection);
      })
      .catch(function () {
        showError(container);
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
