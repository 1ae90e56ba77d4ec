"""The web map's basemap: tile sources from the settings, the district's own rendered tiles."""
