/* Place search (GET /api/v1/places) and the address of a position (/api/v1/places/reverse).
   WG.placeSearch wires a text box to a hit list; WG.reportAddress keeps the /m report form's
   地址 field filled from the position in its lon/lat boxes. Offline, search says so and the
   report goes without an address: the server fills it when the queued report arrives. */
(function () {
  const KIND = {
    building: ['门牌', 'House no.'], road: ['道路', 'Road'], community: ['社区', 'Community'],
    street: ['街道', 'Street'], grid: ['网格', 'Grid'], unit_grid: ['单元网格', 'Unit grid'],
    camera: ['监控', 'Camera'],
  };
  const kindLabel = k => (KIND[k] ? WG.t(KIND[k][0], KIND[k][1]) : k);

  /** Search as the user types; onPick(place) gets {name, kind, address, lon, lat, …}; crs()
      names the system its lon/lat should come in (default CGCS2000); near() gives a [lon, lat]
      in that system (the map's centre): a user of many counties searches the county there. */
  WG.placeSearch = function ({input, list, status, onPick, crs, near}) {
    let timer = null, asked = 0;
    const say = text => { if (status) status.textContent = text || ''; };
    async function run() {
      const q = input.value.trim();
      list.innerHTML = '';
      if (!navigator.onLine) { say(WG.t('离线：地点搜索不可用，上报仍可保存并稍后发送', 'Offline: place search is unavailable; reports are still queued')); return; }
      if (q.length < 2) { say(q ? WG.t('请至少输入 2 个字', 'Type at least 2 characters') : ''); return; }
      const mine = ++asked;
      let items;
      try {
        let where = crs ? '&crs=' + encodeURIComponent(crs()) : '';  // lon/lat in the basemap's system
        const at = near ? near() : null;  // a province's user searches the county under the map
        if (at) where += `&near_lon=${at[0].toFixed(6)}&near_lat=${at[1].toFixed(6)}`;
        items = (await WG.api('GET', '/api/v1/places?limit=8&q=' + encodeURIComponent(q) + where)).items;
      } catch (e) {
        if (mine === asked) say(e.status === undefined ? WG.t('离线：地点搜索不可用，上报仍可保存并稍后发送', 'Offline: place search is unavailable; reports are still queued') : e.message);
        return;
      }
      if (mine !== asked) return;  // a newer text was typed meanwhile
      say(items.length ? '' : WG.t('没有找到地点', 'No place found'));
      list.innerHTML = items.map((p, i) => `<li data-i="${i}" data-kind="${WG.esc(p.kind)}" tabindex="0">` +
        `<b>${WG.esc(p.name)}</b> <span class="badge">${WG.esc(kindLabel(p.kind))}</span><br>` +
        `<span class="muted">${WG.esc(p.address)}</span></li>`).join('');
      list.querySelectorAll('li').forEach(li => {
        const pick = () => { list.innerHTML = ''; say(''); onPick(items[Number(li.dataset.i)]); };
        li.addEventListener('click', pick);
        li.addEventListener('keydown', ev => { if (ev.key === 'Enter') { ev.preventDefault(); pick(); } });
      });
    }
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 300); });
    input.addEventListener('keydown', ev => { if (ev.key === 'Enter') { ev.preventDefault(); clearTimeout(timer); run(); } });
    window.addEventListener('offline', () => say(WG.t('离线：地点搜索不可用，上报仍可保存并稍后发送', 'Offline: place search is unavailable; reports are still queued')));
    window.addEventListener('online', () => say(''));
  };

  /** Keep `address` filled from the reverse geocoding of the lon/lat boxes, until edited. */
  WG.reportAddress = function ({lon, lat, address, form, crs}) {
    let last = '', edited = false, asked = 0;
    address.addEventListener('input', () => { edited = address.value.trim() !== ''; });
    form.addEventListener('reset', () => { edited = false; last = ''; });
    async function check() {
      const key = `${lon.value},${lat.value}`;
      if (key === last || edited) return;
      // Offline, a new position must not keep the old one's address: leave it to the server.
      if (!navigator.onLine) { address.value = ''; return; }
      const x = Number(lon.value), y = Number(lat.value);
      if (!x || !y) return;
      last = key;
      const mine = ++asked;
      try {
        const r = await WG.api('GET', `/api/v1/places/reverse?lon=${x}&lat=${y}&crs=${encodeURIComponent(crs ? crs() : 'EPSG:4490')}`);
        if (mine === asked && !edited) address.value = r.address || '';
      } catch (e) {
        if (e.status === undefined) last = '';  // no network: try again when it returns
        else if (mine === asked && !edited) address.value = '';  // outside the district
      }
    }
    // The boxes are filled by scripts (GPS, my grid, a picked place) without input events.
    setInterval(check, 700);
    check();
    return {refresh() { edited = false; last = ''; check(); }};
  };
})();
