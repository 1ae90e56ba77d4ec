"""Places: reverse geocoding and place search from the district's own data."""
