"""Basic-data registry (基础数据): people, places, things and organisations.

`catalogue` holds the pure core for things (城市部件): the class catalogues and the
component identifier rules. Storage, services and the API arrive in later subpackages.
"""
