/* The grid worker's report form (/m): a place search that sets the report's position, and the
   地址 field kept filled from that position (editable; sent only when not empty). */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('place-q') || !WG.placeSearch) return;
  const address = WG.reportAddress({
    lon: $('lon'), lat: $('lat'), address: $('address'), form: $('report-form'),
    crs: () => (WG.posCrs ? WG.posCrs() : 'EPSG:4490'),
  });
  WG.placeSearch({
    input: $('place-q'), list: $('place-hits'), status: $('place-status'),
    onPick(p) {
      $('lon').value = p.lon.toFixed(6); $('lat').value = p.lat.toFixed(6);
      $('lon').dispatchEvent(new Event('input'));  // mobile.js: a typed position is CGCS2000
      $('place-q').value = p.name;
      address.refresh();
    },
  });
})();
