"""wangge: open grid-governance platform (网格化服务管理信息平台)."""

__version__ = "0.1.0"
