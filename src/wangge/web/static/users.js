/* Users page for administrators: create users with a post, reset passwords, deactivate and
   reactivate, add and remove posts, edit role permissions. Every change is an /api/v1 call,
   so scope, rights and the audit log are enforced there, not here. */
(function () {
  const T = WG.t, esc = WG.esc;
  const FLASH = 'wangge-users-flash';
  function msg(el, text, ok) { el.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  function done(text) { sessionStorage.setItem(FLASH, text); location.reload(); }
  const flash = sessionStorage.getItem(FLASH);
  if (flash) { msg(document.getElementById('flash'), flash, true); sessionStorage.removeItem(FLASH); }
  const val = id => document.getElementById(id).value.trim();
  function post(role, scope, department, layer) {
    const p = {role};
    if (scope) p.scope = scope;
    if (department) p.department = department;
    if (scope && layer && scope.length > 12) p.layer = layer;  // a grid code names one layer
    return p;
  }
  async function run(button, out, call, text) {
    button.disabled = true;
    try { await call(); done(text); }
    catch (e) { msg(out, e.message, false); button.disabled = false; }
  }

  document.getElementById('create-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const body = {username: val('new-username'), display_name: val('new-display'),
      password: document.getElementById('new-password').value, posts: []};
    if (val('new-phone')) body.phone = val('new-phone');
    if (val('new-role')) body.posts.push(post(val('new-role'), val('new-scope'), val('new-department'), val('new-layer')));
    run(document.getElementById('create-submit'), document.getElementById('create-msg'),
      () => WG.api('POST', '/api/v1/users', body), T(`已创建用户 ${body.username}`, `user ${body.username} created`));
  });

  const name = id => document.querySelector(`tr[data-user="${id}"]`).dataset.username;
  let target = null;
  const postDialog = document.getElementById('post-dialog');
  const resetDialog = document.getElementById('reset-dialog');
  document.querySelectorAll('dialog [data-close]').forEach(b => b.addEventListener('click', () => b.closest('dialog').close()));

  document.querySelectorAll('[data-add-post]').forEach(a => a.addEventListener('click', ev => {
    ev.preventDefault();
    target = a.dataset.addPost;
    document.getElementById('post-title').textContent = T('添加岗位', 'Add a post') + ' · ' + name(target);
    document.getElementById('post-msg').innerHTML = '';
    postDialog.showModal();
  }));
  document.getElementById('post-form').addEventListener('submit', ev => {
    ev.preventDefault();
    run(document.getElementById('post-submit'), document.getElementById('post-msg'),
      () => WG.api('POST', `/api/v1/users/${target}/posts`, post(val('post-role'), val('post-scope'), val('post-department'), val('post-layer'))),
      T(`已为 ${name(target)} 添加岗位`, `post added for ${name(target)}`));
  });

  document.querySelectorAll('[data-remove-post]').forEach(a => a.addEventListener('click', async ev => {
    ev.preventDefault();
    if (!confirm(T('撤销这个岗位？', 'Remove this post?'))) return;
    try { await WG.api('DELETE', `/api/v1/posts/${a.dataset.removePost}`); done(T('已撤销岗位', 'post removed')); }
    catch (e) { msg(document.getElementById('flash'), e.message, false); }
  }));

  document.querySelectorAll('[data-reset]').forEach(b => b.addEventListener('click', () => {
    target = b.dataset.reset;
    document.getElementById('reset-title').textContent = T('重置密码', 'Reset password') + ' · ' + name(target);
    document.getElementById('reset-msg').innerHTML = '';
    document.getElementById('reset-password').value = '';
    resetDialog.showModal();
  }));
  document.getElementById('reset-form').addEventListener('submit', ev => {
    ev.preventDefault();
    run(document.getElementById('reset-submit'), document.getElementById('reset-msg'),
      () => WG.api('POST', `/api/v1/users/${target}/actions/reset-password`, {new_password: document.getElementById('reset-password').value}),
      T(`已重置 ${name(target)} 的密码`, `password of ${name(target)} reset`));
  });

  for (const [attr, action, zh, en] of [['deactivate', 'deactivate', '已停用', 'deactivated'], ['reactivate', 'reactivate', '已恢复', 'reactivated']]) {
    document.querySelectorAll(`[data-${attr}]`).forEach(b => b.addEventListener('click', async () => {
      const id = b.dataset[attr];
      if (action === 'deactivate' && !confirm(T(`停用 ${name(id)}？其所有会话立即结束。`, `Deactivate ${name(id)}? All sessions end now.`))) return;
      run(b, document.getElementById('flash'), () => WG.api('POST', `/api/v1/users/${id}/actions/${action}`),
        T(`${zh} ${name(id)}`, `${name(id)} ${en}`));
    }));
  }

  document.querySelectorAll('[data-save-role]').forEach(b => b.addEventListener('click', () => {
    const code = b.dataset.saveRole;
    const boxes = [...document.querySelectorAll(`#roles input[data-role="${code}"]`)];
    const body = {code, name_zh: boxes[0].dataset.name, builtin: true,
      permissions: boxes.filter(x => x.checked).map(x => x.value)};
    run(b, document.getElementById('roles-msg'), () => WG.api('PUT', `/api/v1/roles/${code}`, body),
      T(`已保存角色 ${code} 的权限`, `permissions of role ${code} saved`));
  }));
})();
