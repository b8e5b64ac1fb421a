// /events: a severity picked in a row is saved at once (the form posts as it would with its Save button).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // On a phone the open filter panel would fill the screen before a single row: fold it (unless it shows errors).
  var panel = document.getElementById("filter-panel");
  if (panel && window.innerWidth < 720 && !panel.querySelector(".error-summary")) { panel.open = false; }
  Array.prototype.forEach.call(document.querySelectorAll("form.quick-edit select[name=severity]"), function (select) {
    select.addEventListener("change", function () {
      select.className = "sev-select sev-" + select.value;
      select.form.submit();
    });
  });
}());
