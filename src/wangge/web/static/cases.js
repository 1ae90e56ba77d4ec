/* Case list filters: a place chosen narrows the next one (the page reloads with its choices),
   and empty fields stay out of the address so a shared link reads cleanly. */
(function () {
  const form = document.getElementById('case-filter');
  if (!form) return;
  form.addEventListener('submit', () => {
    for (const el of form.elements) {
      if (el.name && !el.value) el.disabled = true;  // disabled fields are not sent
    }
  });
  // Back to this page from the browser's cache: the fields left out last time are usable again.
  window.addEventListener('pageshow', () => { for (const el of form.elements) el.disabled = false; });
  form.querySelectorAll('select[data-resets]').forEach(sel => sel.addEventListener('change', () => {
    for (const name of sel.dataset.resets.split(' ')) form.elements[name].value = '';
    form.requestSubmit();
  }));
})();
