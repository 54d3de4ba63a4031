/*
 * Scan verification page (扫码核查): fills the result form's hidden lon/lat/accuracy fields
 * from navigator.geolocation (WGS-84; the server converts to GCJ-02) and keeps the code field
 * focused for the next scan. Loaded as a file: the CSP forbids inline scripts. The messages
 * come from the form's data-geo-* attributes (translated by the template).
 */
(function () {
  "use strict";

  function locate(form) {
    if (!form || form.dataset.geoStarted) {
      return;
    }
    form.dataset.geoStarted = "1";
    var status = form.querySelector("[data-geo-status]");
    var say = function (text) {
      if (status && text) {
        status.textContent = text;
      }
    };
    if (!("geolocation" in navigator)) {
      say(form.dataset.geoFailed);
      return;
    }
    say(form.dataset.geoWaiting);
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        var set = function (name, value) {
          var input = form.querySelector('[data-geo="' + name + '"]');
          if (input) {
            input.value = value;
          }
        };
        set("lon", pos.coords.longitude.toFixed(7));
        set("lat", pos.coords.latitude.toFixed(7));
        set("accuracy", Math.round(pos.coords.accuracy));
        say((form.dataset.geoOk || "").replace("{m}", Math.round(pos.coords.accuracy)));
      },
      function () {
        say(form.dataset.geoFailed);
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 }
    );
  }

  function init(root) {
    var forms = (root || document).querySelectorAll("form[data-scan-result]");
    for (var i = 0; i < forms.length; i += 1) {
      locate(forms[i]);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    init(event.target);
  });
})();
