// Copy buttons: <button data-copy="ID" aria-controls="STATUS-ID" hidden> copies the text of element #ID. Served by
// the app (the CSP allows scripts from 'self' only). The button stays hidden without JavaScript, where the text can
// be selected by hand. Where the Clipboard API is unavailable or refused (plain http on another host, a browser
// setting), the text is selected and copied the old way, or left selected with a hint to press Ctrl+C.
(function () {
  "use strict";

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function say(button, message) {
    var status = document.getElementById(button.getAttribute("aria-controls"));
    if (status) {
      status.textContent = message;
    }
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var text = source.textContent.trim();
    select(source);
    var fallback = function () {
      var copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (ignored) {
        copied = false;
      }
      say(button, copied ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C on a Mac) to copy it.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        say(button, "Copied to the clipboard.");
      }, fallback);
    } else {
      fallback();
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(button);
    });
  });
})();
