/* The console's 登记纠纷 form (console_disputes.html): posts /api/v1/disputes and opens the new
   dispute's page; a refusal shows the server's own message (Chinese or English). */
(function () {
  const form = document.getElementById('dispute-register-form');
  if (!form) return;
  const error = document.getElementById('dispute-register-error');
  form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    error.hidden = true;
    const v = name => (form.elements[name].value || '').trim();
    const parties = [...form.querySelectorAll('.party')].map(p => ({
      name: p.querySelector('[name=party_name]').value.trim(),
      phone: p.querySelector('[name=party_phone]').value.trim() || null,
      id_number: p.querySelector('[name=party_id]').value.trim() || null,
    })).filter(p => p.name);
    const body = {kind: v('kind'), summary: v('summary'), lon: parseFloat(v('lon')), lat: parseFloat(v('lat')),
      address: v('address') || null, parties};
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const d = await WG.api('POST', '/api/v1/disputes', body);
      window.location.href = '/console/disputes/' + d.id;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
