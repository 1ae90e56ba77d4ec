"""代办 resident services: a county's catalogue, residents' requests, their clocks and counts."""
