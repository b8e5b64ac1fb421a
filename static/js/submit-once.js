// Forms marked data-submit-once send once: their submit button is disabled as the form goes, so a double click
// does not send it twice (the server also refuses a second confirmation of the same import check).
(function () {
  "use strict";
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = true;
        if (button.dataset.busy) {
          button.textContent = button.dataset.busy;
        }
      });
      form.setAttribute("aria-busy", "true");
    });
  });
})();
