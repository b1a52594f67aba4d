// The management forms (templates/dashboard/manage/). Their 422 (invalid fields)
// and 409 (a duplicate, an illegal status move) answers carry the form again with
// a message next to each field, so htmx swaps them like a success; any other
// failure is said in the form's status line, and the form keeps what was typed.
// The page's htmx-config (base.html) swaps no other 4xx; this widens it for these
// forms only.
(function () {
  "use strict";

  function form(event) {
    var elt = event.detail.elt;
    return elt && elt.closest ? elt.closest("[data-manage]") : null;
  }

  function say(holder, text) {
    var line = holder && holder.querySelector("[data-form-status]");
    if (!line) return;
    line.textContent = text;
    line.setAttribute("role", "alert");
    line.classList.add("field-error");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (!form(event)) return;
    if (status === 409 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 503) {
      // The page's config swaps 503 (the charts' inline message); here it is an error.
      event.detail.shouldSwap = false;
      event.detail.isError = true;
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var holder = form(event);
    if (!holder) return;
    var xhr = event.detail.xhr;
    // The error page says why; DOMParser runs no script.
    var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var detail = page.querySelector("main p");
    say(holder, "Not saved (HTTP " + xhr.status + ")" + (detail ? ": " + detail.textContent : "."));
  });

  document.addEventListener("htmx:sendError", function (event) {
    say(form(event), "The server could not be reached; nothing was saved.");
  });
})();
