/*
 * Bike-share fence page: the chosen fence's polygon (GeoJSON geometry, GCJ-02, from
 * <script type="application/json" id="bikeshare-fence-data">) over Beijing's districts
 * (data-geojson-url), zoomed to the fence.
 *
 * CSP: no inline script or style; tooltips in richText mode.
 */
(function () {
  "use strict";

  function rings(geometry) {
    if (geometry.type === "Polygon") {
      return [geometry.coordinates[0]];
    }
    if (geometry.type === "MultiPolygon") {
      return geometry.coordinates.map(function (polygon) {
        return polygon[0];
      });
    }
    return [];
  }

  function init() {
    var container = document.getElementById("bikeshare-fence-map");
    var node = document.getElementById("bikeshare-fence-data");
    if (!container || !node || !window.echarts) {
      return;
    }
    var fence = JSON.parse(node.textContent);
    if (!fence) {
      return;
    }
    window.govcenterDistrictMap(container, "bikeshare-fences", function (chart, collection) {
      var polygons = rings(fence.geometry);
      var bbox = fence.bbox;
      var span = Math.max(bbox[2] - bbox[0], bbox[3] - bbox[1], 0.0005);
      chart.setOption({
        tooltip: { trigger: "item", renderMode: "richText" },
        geo: {
          map: "bikeshare-fences",
          roam: true,
          aspectScale: 0.77,
          center: [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2],
          zoom: Math.min(2000, Math.max(1, 0.4 / span)),
          label: { show: true, fontSize: 10, color: "#667382" },
          itemStyle: { areaColor: "#f1f5f9", borderColor: "#adb5bd" },
          emphasis: { disabled: true }
        },
        series: [
          {
            type: "custom",
            coordinateSystem: "geo",
            name: fence.kind,
            data: polygons.map(function (ring, i) {
              return { name: fence.name, value: [i] };
            }),
            renderItem: function (params, api) {
              return {
                type: "polygon",
                shape: {
                  points: polygons[api.value(0)].map(function (p) {
                    return api.coord(p);
                  })
                },
                style: { fill: "rgba(32,107,196,0.35)", stroke: "#206bc4", lineWidth: 2 }
              };
            }
          }
        ]
      });
      return polygons.length;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
