// /events: a severity picked in a row is saved at once (the form posts as it would with its Save button).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  Array.prototype.forEach.call(document.querySelectorAll("form.quick-edit select[name=severity]"), function (select) {
    select.addEventListener("change", function () {
      select.className = "sev-select sev-" + select.value;
      select.form.submit();
    });
  });
}());
