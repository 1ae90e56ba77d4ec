/* The dispute page's steps: each form posts its /api/v1/disputes route, then the page reloads;
   a refusal shows the server's own message (Chinese or English). */
(function () {
  const box = document.getElementById('dispute-actions');
  if (!box) return;
  const base = '/api/v1/disputes/' + box.dataset.disputeId;
  const error = document.getElementById('dispute-error');
  function fields(form) {
    const out = {};
    new FormData(form).forEach(function (v, k) { if (typeof v === 'string' && v.trim()) out[k] = v.trim(); });
    return out;
  }
  const routes = {
    'form-session': function (f) { return WG.api('POST', base + '/sessions', fields(f)); },
    'form-outcome': function (f) { return WG.api('POST', base + '/outcome', fields(f)); },
    'form-follow-up': function (f) { return WG.api('POST', base + '/follow-up', fields(f)); },
    'form-agreement': function (f) { return WG.api('POST', base + '/agreement', new FormData(f)); },
  };
  Object.keys(routes).forEach(function (id) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      error.hidden = true;
      const button = form.querySelector('button');
      button.disabled = true;
      try {
        await routes[id](form);
        window.location.reload();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        button.disabled = false;
      }
    });
  });
})();
