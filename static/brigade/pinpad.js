/* The PIN pad: big digit buttons fill the PIN field of their form. The field stays a real input, so a
 * hardware keyboard works and the form posts without this script. Event delegation on the document, so
 * a pad swapped in by htmx works without rebinding. */
(function () {
  "use strict";
  var MAX = 6;
  document.addEventListener("click", function (event) {
    var key = event.target.closest("[data-pin-key]");
    if (!key) return;
    var form = key.closest("form");
    var input = form && form.querySelector("input[name=pin]");
    if (!input) return;
    event.preventDefault();
    var value = key.dataset.pinKey;
    if (value === "clear") input.value = "";
    else if (value === "back") input.value = input.value.slice(0, -1);
    else if (input.value.length < MAX) input.value += value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
