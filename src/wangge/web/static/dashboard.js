/* 大屏: indicators and ECharts panels, refreshed every minute. */
(function () {
  const charts = {};
  const text = {color: '#dfe9ff'};
  function chart(id) { return charts[id] || (charts[id] = echarts.init(document.getElementById(id), null, {renderer: 'canvas'})); }
  const pct = v => v == null ? '—' : v.toFixed(1) + '%';  // the evaluation's rates are in %
  function bar(id, rows, color) {
    chart(id).setOption({
      grid: {left: 130, right: 30, top: 10, bottom: 25},
      xAxis: {type: 'value', axisLabel: text, splitLine: {lineStyle: {color: '#1f4b8f'}}},
      yAxis: {type: 'category', inverse: true, data: rows.map(r => r.name), axisLabel: Object.assign({width: 120, overflow: 'truncate'}, text)},
      series: [{type: 'bar', data: rows.map(r => r.count), itemStyle: {color}, label: {show: true, position: 'right', color: '#dfe9ff'}}],
      tooltip: {},
    });
  }
  async function refresh() {
    const r = await fetch('/web/api/dashboard', {credentials: 'same-origin'});
    if (r.status === 401) { location.href = '/login?next=/dashboard'; return; }
    const d = await r.json();
    document.getElementById('k-today').textContent = d.today.total;
    document.getElementById('k-total').textContent = d.total;
    document.getElementById('k-closed').textContent = d.closed;
    document.getElementById('k-overdue').textContent = d.overdue;
    // The same rates as the 考核 pages (evaluation.headline), over the same days.
    document.getElementById('k-ontime').textContent = pct(d.rates.handle_on_time_rate);
    document.getElementById('k-closed-ontime').textContent = pct(d.rates.close_on_time_rate);
    document.getElementById('k-satisfied').textContent = pct(d.rates.satisfaction_rate);
    const states = d.today.by_state.length ? d.today.by_state : d.open_by_state;
    chart('c-state').setOption({
      tooltip: {trigger: 'item'}, legend: {bottom: 0, textStyle: text},
      series: [{type: 'pie', radius: ['35%', '65%'], data: states.map(s => ({name: WG.label('state', s.state), value: s.count})), label: {color: '#dfe9ff'}}],
    });
    bar('c-category', d.by_category, '#4ee1ff');
    chart('c-source').setOption({
      tooltip: {trigger: 'item'},
      series: [{type: 'pie', radius: '65%', roseType: 'radius', data: d.by_source.map(s => ({name: WG.label('source', s.code), value: s.count})), label: {color: '#dfe9ff'}}],
    });
    const area = d.by_area.concat(d.by_department.map(x => ({name: WG.t('部门·', 'Dept · ') + x.name, count: x.count})));
    bar('c-area', area, '#ffb74d');
    const n = d.heat.n, cells = d.heat.cells;
    const max = cells.reduce((m, c) => Math.max(m, c[2]), 1);
    const axis = {type: 'category', data: Array.from({length: n}, (_, i) => i), show: false};
    chart('c-heat').setOption({
      grid: {left: 10, right: 10, top: 10, bottom: 40},
      xAxis: axis, yAxis: axis,
      visualMap: {min: 0, max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, textStyle: text,
        inRange: {color: ['#0b2451', '#1e88e5', '#ffeb3b', '#ff5722', '#d50000']}},
      series: [{type: 'heatmap', data: cells, progressive: 0}],
      tooltip: {},
    });
    document.getElementById('top').innerHTML = `<table><tr><th>${WG.t('网格', 'Grid')}</th><th>${WG.t('问题', 'Problem')}</th><th>${WG.t('次数', 'Times')}</th></tr>` +
      d.top_problems.map(t => `<tr><td>${WG.esc(t.grid_name)}<br><span class="muted">${WG.esc(t.grid_code)}</span></td><td>${WG.esc(t.category)}</td><td>${t.count}</td></tr>`).join('') + '</table>';
    document.body.dataset.loaded = '1';
    document.body.dataset.total = String(d.total);
  }
  refresh();
  setInterval(refresh, 60000);
})();
