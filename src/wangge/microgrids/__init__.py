"""Micro grids that work (一网多层, issue 18 item 2): generation, leaders, the leader's view."""
