// Behaviour of the staff pages. No inline handlers: the Content-Security-Policy forbids them.
"use strict";

// "Use this tip" on the case page: a suggested tip goes into the resolve form's tip field.
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-tip]");
  if (!button) return;
  const field = document.getElementById(button.getAttribute("aria-controls") || "tip");
  if (!field) return;
  field.value = button.dataset.tip;
  field.focus();
});
