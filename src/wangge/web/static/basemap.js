/* The basemap of every map page: the source the settings choose (WG.basemap, from the server:
   天地图, an XYZ or WMTS service, or the district's own tiles at /tiles), with its attribution. */
(function () {
  const WG = window.WG = window.WG || {};
  const GEOGRAPHIC = ['EPSG:4490', 'EPSG:4326'];

  /** The CRS overlays must be sent in to sit on the basemap (GCJ02 for 高德-like tiles). */
  WG.basemapCrs = function () {
    return (WG.basemap && WG.basemap.crs) || 'EPSG:4490';
  };

  /** Add the basemap's tile layers under everything else; returns them ([] when none).
      opts.shifts === false: the page cannot shift its overlays into GCJ-02, so a GCJ-02
      basemap is left out rather than drawn 100–700 m off. */
  WG.addBasemap = function (map, opts) {
    const cfg = WG.basemap;
    opts = opts || {};
    if (!cfg || !window.L || !cfg.layers) return [];
    if (opts.shifts === false && !GEOGRAPHIC.includes(cfg.crs)) return [];
    const layers = cfg.layers.map(l => L.tileLayer(l.url, {
      subdomains: l.subdomains || 'abc',
      // Beyond the source's last zoom its tiles are enlarged, so a map zoomed in further
      // (a click placed at street level) keeps its streets instead of going grey.
      maxZoom: 22,
      maxNativeZoom: l.maxNativeZoom || l.maxZoom || 18,
      bounds: l.bounds ? L.latLngBounds(l.bounds) : undefined,
      attribution: WG.esc ? WG.esc(l.attribution || '') : (l.attribution || ''),
    }).addTo(map));
    map.getContainer().dataset.basemap = cfg.kind;
    if (cfg.background) map.getContainer().style.background = cfg.background;
    return layers;
  };
})();
