/* 考核评价 page: picking a period reloads the page; publishing is one POST to
   /api/v1/evaluation/publications, so the rights, checks and the audit entry are the API's. */
(function () {
  const E = window.EVAL, esc = WG.esc;
  const period = document.getElementById('eval-period');
  if (period) period.addEventListener('change', () => document.getElementById('eval-picker').submit());
  const county = document.getElementById('eval-county');
  if (county) county.addEventListener('change', () => document.getElementById('eval-picker').submit());
  // Score bars drawn from the ranking table itself, so the chart and the table never differ.
  if (window.echarts) document.querySelectorAll('.eval-chart').forEach(box => {
    const rows = [...document.querySelectorAll(`#ranking-${box.dataset.type} tr[data-key]`)]
      .map(tr => [tr.querySelector('[data-col=name]').textContent.trim(),
        parseFloat(tr.querySelector('[data-col=score]').textContent)])
      .filter(r => !Number.isNaN(r[1])).slice(0, 20).reverse();
    echarts.init(box).setOption({
      animation: false,  // drawn at once: a screenshot or a print shows the real lengths
      grid: {left: 140, right: 40, top: 10, bottom: 24},
      xAxis: {type: 'value', min: 0, max: 100},
      yAxis: {type: 'category', data: rows.map(r => r[0]), axisLabel: {width: 130, overflow: 'truncate'}},
      tooltip: {trigger: 'axis'},
      series: [{type: 'bar', data: rows.map(r => r[1]), name: WG.t('综合指标值', 'Composite score'),
        label: {show: true, position: 'right'}, itemStyle: {color: '#1a5fb4'}}],
    });
  });
  const form = document.getElementById('publish-form');
  if (!form) return;
  const flash = document.getElementById('publish-flash');
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const button = document.getElementById('publish-submit');
    const types = [...form.querySelectorAll('input[name=object_types]:checked')].map(i => i.value);
    const body = {county: E.county, period: E.period, object_types: types,
      credit: document.getElementById('publish-credit').checked,
      reason: document.getElementById('publish-reason').value.trim() || null};
    button.disabled = true;
    try {
      const p = await WG.api('POST', '/api/v1/evaluation/publications', body);
      flash.innerHTML = `<p class="msg ok" data-version="${p.version}">${esc(WG.t('已发布', 'Published'))} ${esc(p.period)} ` +
        `${esc(WG.t('第', 'version '))}${p.version}${esc(WG.t(' 版', ''))} · <a href="${esc(p.public_url)}" id="published-link">${esc(WG.t('查看公示页面', 'open the public page'))}</a></p>`;
    } catch (e) {
      flash.innerHTML = `<p class="msg err">${esc(e.message)}</p>`;
    } finally {
      button.disabled = false;
    }
  });
})();
