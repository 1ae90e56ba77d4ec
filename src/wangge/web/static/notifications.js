/* Notifications page: the retry button of a dead letter. The call goes to the API, where rights,
   checks and the audit log are enforced; the delivery worker sends the message shortly after. */
(function () {
  const esc = WG.esc, N = window.NOTIFY;
  const flashBox = document.getElementById('flash');
  function msg(text, ok) { flashBox.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  document.querySelectorAll('[data-retry]').forEach(b => b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await WG.api('POST', `/api/v1/notifications/${b.dataset.retry}/actions/retry`);
      b.closest('tr').remove();
      msg(N.retried, true);
    } catch (e) { msg(e.message, false); b.disabled = false; }
  }));
})();
