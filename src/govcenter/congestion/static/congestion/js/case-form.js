/*
 * List inputs of the congestion-relief forms (_input.html, types "rows" and "strings"):
 * "添加一行" appends a copy of the <template data-rows-template>, with the placeholder
 * index __i__ in its input names replaced by the next free index (data-rows-next), so the
 * server reads name[i]field as one more item. No inline script (CSP).
 */
(function () {
  "use strict";

  function addRow(container) {
    var template = container.querySelector("template[data-rows-template]");
    var body = container.querySelector("[data-rows-body]");
    if (!template || !body) {
      return;
    }
    var index = parseInt(container.getAttribute("data-rows-next") || "0", 10);
    var row = template.content.cloneNode(true);
    row.querySelectorAll("[name]").forEach(function (input) {
      input.name = input.name.replace("__i__", String(index));
    });
    container.setAttribute("data-rows-next", String(index + 1));
    body.appendChild(row);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-rows-add]");
    if (button) {
      event.preventDefault();
      addRow(button.closest("[data-rows]"));
    }
  });
})();
