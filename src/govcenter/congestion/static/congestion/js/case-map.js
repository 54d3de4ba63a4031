/*
 * Maps of the congestion-relief pages, drawn with ECharts over Beijing's district boundaries
 * (GeoJSON from data-geojson-url, GCJ-02 lon/lat; no tiles: the intranet has no map server).
 *
 * - data-geometry-id: the id of a json_script element holding either one GeoJSON geometry
 *   (Point / LineString: a case's place) or a list of {name, url, level, geometry} (search
 *   results; clicking a point opens its case).
 * - data-pick-for: the id of a hidden input; a click on the map puts a GeoJSON Point there
 *   (a case's place on a form).
 *
 * CSP: no inline script or style; the tooltip uses ECharts' richText mode.
 */
(function () {
  "use strict";

  var COLORS = { red: "#d63939", yellow: "#f59f00", blue: "#4299e1", none: "#2fb344" };

  function readJson(id) {
    var element = id && document.getElementById(id);
    if (!element) {
      return null;
    }
    try {
      return JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
  }

  function items(data) {
    if (!data) {
      return [];
    }
    if (Array.isArray(data)) {
      return data;
    }
    return [{ name: "", url: "", level: "none", geometry: data }];
  }

  function series(list, picked) {
    var points = [];
    var lines = [];
    list.forEach(function (item) {
      var geometry = item.geometry || {};
      var color = COLORS[item.level] || COLORS.none;
      if (geometry.type === "Point") {
        points.push({ name: item.name, url: item.url, value: geometry.coordinates, itemStyle: { color: color } });
      } else if (geometry.type === "LineString") {
        lines.push({ name: item.name, url: item.url, coords: geometry.coordinates, lineStyle: { color: color } });
      }
    });
    if (picked) {
      points.push({ name: "", value: picked, itemStyle: { color: COLORS.red } });
    }
    return [
      { type: "scatter", coordinateSystem: "geo", symbolSize: 9, data: points, zlevel: 2 },
      { type: "lines", coordinateSystem: "geo", polyline: true, lineStyle: { width: 3 }, data: lines, zlevel: 2 }
    ];
  }

  function render(container, collection) {
    window.echarts.registerMap("beijing-districts", collection);
    var list = items(readJson(container.dataset.geometryId));
    var chart = window.echarts.init(container, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}" },
      geo: {
        map: "beijing-districts",
        nameProperty: "name",
        roam: true,
        aspectScale: 0.77,
        layoutCenter: ["50%", "50%"],
        layoutSize: "95%",
        label: { show: true, fontSize: 10, color: "#667382" },
        itemStyle: { areaColor: "#f1f5f9", borderColor: "#aab4c3" },
        emphasis: { disabled: true }
      },
      series: series(list, null)
    });
    chart.on("click", function (params) {
      if (params.data && params.data.url) {
        window.location.assign(params.data.url);
      }
    });
    var input = container.dataset.pickFor && document.getElementById(container.dataset.pickFor);
    if (input) {
      chart.getZr().on("click", function (event) {
        var lonLat = chart.convertFromPixel({ geoIndex: 0 }, [event.offsetX, event.offsetY]);
        if (!lonLat) {
          return;
        }
        var point = [Number(lonLat[0].toFixed(6)), Number(lonLat[1].toFixed(6))];
        input.value = JSON.stringify({ type: "Point", coordinates: point });
        chart.setOption({ series: series(list, point) });
        var hint = container.parentElement.querySelector("[data-location-text]");
        if (hint) {
          hint.textContent = point[0] + ", " + point[1] + " (GCJ-02)";
        }
      });
    }
    window.addEventListener("resize", function () {
      chart.resize();
    });
    container.dataset.rendered = String(collection.features.length);
  }

  function init() {
    var containers = document.querySelectorAll(".case-map");
    if (!containers.length || !window.echarts) {
      return;
    }
    fetch(containers[0].dataset.geojsonUrl, {
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
        containers.forEach(function (container) {
          render(container, collection);
        });
      })
      .catch(function () {
        containers.forEach(function (container) {
          container.classList.add("case-map-error", "text-secondary");
          container.textContent = container.dataset.errorText || "";
        });
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
