"""The web pages: center console, grid-worker mobile page, citizen page and dashboard."""
