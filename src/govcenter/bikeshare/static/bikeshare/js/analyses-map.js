/*
 * Bike-share heat map and trajectory playback over Beijing's districts (GCJ-02).
 *
 * Data: <script type="application/json" id="bikeshare-analyses-map-data">
 *   {cells: [{cell, value, vehicles, boundary: [[lon, lat], ...]}], track: [{t, lon, lat, trip}]}
 * The districts come from data-geojson-url; H3 cells are drawn as polygons by a custom
 * series on the geo component, coloured by their point count. The trajectory is a polyline
 * up to the slider's position with a marker at the current point; the play button walks
 * the slider forward.
 *
 * CSP: no inline script or style; heights through the CSSOM, tooltips in richText mode.
 */
(function () {
  "use strict";

  function init() {
    var container = document.getElementById("bikeshare-analyses-map");
    var node = document.getElementById("bikeshare-analyses-map-data");
    if (!container || !node || !window.echarts) {
      return;
    }
    var payload = JSON.parse(node.textContent) || {};
    var cells = payload.cells || [];
    var track = payload.track || [];
    window.govcenterDistrictMap(container, "bikeshare-analyses", function (chart, collection) {
      var max = 1;
      cells.forEach(function (c) {
        max = Math.max(max, c.value);
      });
      var series = [
        {
          name: container.dataset.labelPoints,
          type: "custom",
          coordinateSystem: "geo",
          data: cells.map(function (c, i) {
            return { name: c.cell, value: [c.value, i] };
          }),
          renderItem: function (params, api) {
            var cell = cells[api.value(1)];
            return {
              type: "polygon",
              shape: {
                points: cell.boundary.map(function (p) {
                  return api.coord(p);
                })
              },
              style: { fill: api.visual("color"), opacity: 0.75, stroke: "rgba(255,255,255,0.4)" }
            };
          }
        }
      ];
      var option = {
        tooltip: { trigger: "item", renderMode: "richText", formatter: "{b}: {c}" },
        geo: {
          map: "bikeshare-analyses",
          roam: true,
          aspectScale: 0.77,
          layoutCenter: ["50%", "50%"],
          layoutSize: "95%",
          label: { show: true, fontSize: 10, color: "#667382" },
          itemStyle: { areaColor: "#f1f5f9", borderColor: "#adb5bd" },
          emphasis: { disabled: true }
        },
        visualMap: {
          min: 0,
          max: max,
          dimension: 0,
          seriesIndex: 0,
          calculable: true,
          left: 0,
          bottom: 0,
          text: [String(max), "0"],
          inRange: { color: ["#fff3bf", "#f76707", "#c92a2a"] }
        },
        series: series
      };
      if (track.length) {
        var coords = track.map(function (p) {
          return [p.lon, p.lat];
        });
        series.push(
          {
            name: container.dataset.labelTrack,
            type: "lines",
            coordinateSystem: "geo",
            polyline: true,
            lineStyle: { color: "#206bc4", width: 2 },
            data: [{ coords: coords }]
          },
          {
            type: "scatter",
            coordinateSystem: "geo",
            symbolSize: 10,
            itemStyle: { color: "#206bc4" },
            data: [coords[coords.length - 1]]
          }
        );
        option.geo.center = coords[coords.length - 1];
        option.geo.zoom = 6;
      }
      chart.setOption(option);
      if (track.length) {
        playback(chart, track);
      }
      return cells.length;
    });
  }

  function playback(chart, track) {
    var slider = document.getElementById("bikeshare-track-slider");
    var button = document.getElementById("bikeshare-track-play");
    var label = document.getElementById("bikeshare-track-time");
    if (!slider || !button) {
      return;
    }
    var timer = null;
    function show(i) {
      var coords = track.slice(0, i + 1).map(function (p) {
        return [p.lon, p.lat];
      });
      chart.setOption({ series: [{}, { data: [{ coords: coords }] }, { data: [coords[coords.length - 1]] }] });
      if (label) {
        label.textContent = track[i].t.replace("T", " ").slice(0, 19);
      }
    }
    function stop() {
      window.clearInterval(timer);
      timer = null;
      button.textContent = button.dataset.playText;
    }
    slider.addEventListener("input", function () {
      show(Number(slider.value));
    });
    button.addEventListener("click", function () {
      if (timer) {
        stop();
        return;
      }
      if (Number(slider.value) >= track.length - 1) {
        slider.value = "0";
      }
      button.textContent = button.dataset.pauseText;
      timer = window.setInterval(function () {
        var next = Number(slider.value) + 1;
        if (next >= track.length) {
          stop();
          return;
        }
        slider.value = String(next);
        show(next);
      }, 200);
    });
    show(Number(slider.value));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
