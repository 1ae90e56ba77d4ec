"""Typed settings, read from the environment (prefix WANGGE_) or passed in by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
# Passwords copied from examples and docs; refused unless WANGGE_DEMO_MODE is set.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "password", "secret", "wangge", "example"}
)
# The search-hash key of development and tests; production must set its own.
DEV_PERSONAL_HASH_KEY = "wangge-development-personal-hash-key"


class Settings(BaseSettings):
    """Every setting of a wangge deployment; each can be set as WANGGE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="WANGGE_", env_file=None, extra="ignore")

    env: Literal["development", "production"] = Field(
        default="development",
        description="production: refuse development defaults (placeholder keys, cheap hashing).",
    )
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'wangge.db'}",
        description="SQLAlchemy URL: a SQLite file (embedded default) or postgresql+psycopg://...",
    )
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL streaming replicas (hot standbys) for read-only requests, "
        "comma-separated URLs; reads go to the primary when none is fresh enough.",
    )
    replica_max_lag_seconds: float = Field(
        default=2.0,
        gt=0,
        description="A replica is read only while it has replayed everything the primary "
        "wrote this many seconds ago.",
    )
    grid_index_budget_mb: float = Field(
        default=384.0,
        ge=0,
        description="Memory each server process may keep in point-to-grid indexes (about "
        "50 MB for a 9,000-grid district, 27 MB for 5,000 grids); past it the least recently "
        "used counties' indexes are dropped and rebuilt when needed (about 0.5 s for 5,000 "
        "grids). The start-up warm-up fills half of it. With the map's budget it keeps a "
        "province's worker under 1 GB. 0: no limit.",
    )
    place_index_budget_mb: float = Field(
        default=128.0,
        ge=0,
        description="Memory each server process may keep in per-county place indexes (reverse "
        "geocoding and place search: about 8 MB for 5,000 grids, plus ~1.6 KB per building "
        "or road); past it the least recently used counties are dropped and rebuilt when "
        "needed. The start-up warm-up fills half of it. 0: no limit.",
    )
    map_snapshot_budget_mb: float = Field(
        default=256.0,
        ge=0,
        description="Memory each server process may keep in the map's per-county snapshots of "
        "components and buildings (about 16 MB per 300,000 components); past it the least "
        "recently used counties are dropped and read again when needed, and views of more "
        "counties than fit are clustered from small per-county summaries. 0: no limit.",
    )
    replica_check_seconds: float = Field(
        default=1.0, gt=0, description="How often each process measures the replicas' lag."
    )
    grid_sequence_width: int = Field(
        default=3,
        ge=2,
        le=3,
        description="Digits of the grid sequence after the 12-digit community code "
        "(3: 15-digit codes as DB11/T 2157-2023 and GB/T 47678; 2: CJ/T 213 14-digit codes).",
    )
    unit_grid_area_m2: float = Field(default=10_000.0, gt=0, description="Default unit-grid area.")
    audit_key: str = Field(
        default="wangge-development-audit-key",
        description="Secret that keys the audit hash chain (HMAC); keep it outside the "
        "database. The development default is refused when WANGGE_ENV=production.",
    )
    token_max_days: int = Field(
        default=90, ge=1, le=3650, description="Longest life of a personal bearer token."
    )
    api_key_max_days: int = Field(
        default=365, ge=1, le=3650, description="Longest life of an API key (renew before)."
    )
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie only over HTTPS (set true behind TLS)."
    )
    upload_dir: Path = Field(
        default=DEFAULT_DATA_DIR / "uploads", description="Where photos are stored."
    )
    upload_max_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest photo accepted."
    )
    export_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often the server looks for queued exports (Excel of the case list, "
        "registry, audit log) and runs them in the background; 0 turns the export worker off.",
    )
    export_keep_hours: float = Field(
        default=24.0, gt=0, description="How long a finished export's file can be downloaded."
    )
    export_stale_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A running export whose progress has not moved for this long (its process "
        "died on another host) is taken over by another server process.",
    )
    upload_max_pixels: int = Field(
        default=40_000_000, gt=0, description="Decompression-bomb guard."
    )
    upload_anonymous_per_hour: int = Field(
        default=20, ge=1, description="Photos one IP may upload without logging in, per hour."
    )
    upload_anonymous_bytes_per_hour: int = Field(
        default=50 * 1024 * 1024,
        ge=1,
        le=2**30,  # counted in an INTEGER column, with room for one more file
        description="Bytes one IP may upload without logging in, per hour.",
    )
    public_reporting: bool = Field(
        default=True, description="Let citizens report without an account."
    )
    public_hotline: str = Field(
        default="12345",
        max_length=32,
        description="The hotline the public pages tell citizens to call (12345 or a local number).",
    )
    personal_hash_key: str = Field(
        default=DEV_PERSONAL_HASH_KEY,
        description="Secret that keys the search hashes of ID numbers and phones (HMAC), so a "
        "stolen table cannot be matched against a list of numbers. Refused when "
        "WANGGE_ENV=production and left at the development default or shorter than 16 "
        "characters; change it with `wangge registry rehash`.",
    )
    non_admitted_grid_reports: Literal["refuse", "to_centre"] = Field(
        default="refuse",
        description="A grid worker's patrol report of a class outside the 准入清单: refuse it "
        "(naming the rule), or take it as a centre matter (受理 as usual, never self-handled).",
    )
    bench_endpoints: bool = Field(
        default=False, description="Serve the bare benchmark endpoint (bench/ only)."
    )
    sql_echo: bool = Field(default=False, description="Log every SQL statement (debugging).")
    warm_caches: bool = Field(
        default=True, description="Build the grid lookup indexes in the background at start-up."
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections each server process keeps open; beyond them "
        "connections are opened per request (slow), up to db_max_overflow more.",
    )
    request_concurrency: int = Field(
        default=2,
        ge=1,
        description="Requests a server process lets work with the database at once; the "
        "others wait their turn in arrival order before touching it. One process runs Python "
        "on one core at a time (the GIL): two overlap one's database round trips with the "
        "other's work, more only contend (bench: 2 → 234 reports/s, p99 200 ms; 8 → 203, "
        "244 ms; 16 → 182, 288 ms). Raise it where slow queries hold requests long; keep it "
        "below db_pool_size + db_max_overflow minus the background workers' connections.",
    )
    gc_freeze: bool = Field(
        default=True,
        description="After the start-up warm-up, move everything built so far out of the "
        "cycle collector's reach (gc.freeze): full collections then stay short.",
    )
    db_max_overflow: int = Field(
        default=10, ge=0, description="Extra PostgreSQL connections a process may open at peaks."
    )
    audit_seal_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often each server process links new audit entries into the keyed "
        "chain (`wangge audit seal` does it by hand); 0 turns the background sealer off.",
    )
    worker_healthcheck_seconds: int = Field(
        default=60,
        ge=5,
        description="How long `wangge serve --workers N` lets a worker miss uvicorn's health "
        "check before restarting it (uvicorn's 5 s killed busy workers in a loop).",
    )
    demo_mode: bool = Field(
        default=False,
        description="Demo/development mode: placeholder secrets are accepted (never in production).",
    )
    log_level: str = Field(default="INFO", description="Level of the wangge loggers.")
    log_json: bool = Field(
        default=True, description="Write logs as JSON lines with the request id (false: plain)."
    )
    access_log: bool = Field(
        default=False,
        description="Log every request as JSON (server errors are always logged); "
        "uvicorn's own access log is separate (`--no-access-log`).",
    )
    webhook_url: str | None = Field(
        default=None, description="Receiver of outbox messages on the `webhook` channel."
    )
    video_dedupe_minutes: float = Field(
        default=120.0,
        ge=0,
        description="A video-analytics event joins the case its camera opened for the same "
        "category while that case is open, or closed less than this many minutes after the "
        "case's last event (0: only while open).",
    )
    outbox_timeout: float = Field(
        default=10.0, gt=0, description="Seconds one outbox delivery may take before it is retried."
    )
    deliver_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often each server process delivers due outbox messages (one process "
        "at a time, by a lease in the database); 0 turns the in-server worker off, for a "
        "deployment that runs `wangge jobs deliver --loop` as a service of its own.",
    )
    sweep_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the server raises 预警 and escalates overdue cases (超期 → 上报上级 "
        "or 督办); one process at a time, by a lease. 0 turns it off, for a deployment that "
        "runs `wangge jobs sweep` from a timer instead.",
    )
    partition_seconds: float = Field(
        default=21600.0,
        ge=0,
        description="How often each server process makes sure the monthly partitions of the "
        "coming months exist (PostgreSQL; cheap when they do, serialised by an advisory lock). "
        "0 turns it off, for a deployment that runs `wangge ops partitions` from a timer.",
    )
    eval_report_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the server checks whether the monthly evaluation reports (Excel "
        "and PDF) of the month that closed last are stored, and produces the missing ones; one "
        "process at a time, by a lease. 0 turns it off.",
    )
    outbox_max_attempts: int = Field(
        default=6, ge=1, description="Attempts before a message becomes a dead letter."
    )
    outbox_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Wait before the first retry of a failed message, doubled at each retry.",
    )
    notify_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="The secrets of the notification routes as a JSON object, by the names the "
        "routes give: a robot's webhook URL (or only its key / access token) and DingTalk's "
        "signing secret (SEC...). Kept out of the database.",
    )
    sms_gateway: Literal["none", "aliyun"] = Field(
        default="none", description="SMS gateway of the `sms` routes: none or aliyun (阿里云短信)."
    )
    sms_access_key_id: str = Field(default="", description="The SMS gateway's AccessKey ID.")
    sms_access_key_secret: SecretStr = Field(
        default=SecretStr(""), description="The SMS gateway's AccessKey secret."
    )
    sms_sign_name: str = Field(default="", description="The registered SMS signature (签名).")
    sms_template_code: str = Field(
        default="",
        description="The approved SMS template, with the variables ${kind} and ${code}.",
    )
    sms_endpoint: str = Field(
        default="https://dysmsapi.aliyuncs.com/", description="The SMS gateway's address."
    )
    sms_region: str = Field(default="cn-hangzhou", description="The SMS gateway's region.")

    basemap: Literal["auto", "none", "tianditu", "xyz", "wmts", "mbtiles"] = Field(
        default="auto",
        description="Basemap of the web maps (docs/basemap.md): tianditu (天地图, needs "
        "WANGGE_BASEMAP_TIANDITU_KEY), xyz (WANGGE_BASEMAP_URL with {z}/{x}/{y}), wmts (a KVP "
        "GetTile WANGGE_BASEMAP_URL + WANGGE_BASEMAP_WMTS_LAYER), mbtiles (a local file served "
        "by wangge at /tiles/{z}/{x}/{y}.png), none; auto: xyz when WANGGE_BASEMAP_URL is set, "
        "else the MBTiles file when it exists, else none.",
    )
    basemap_url: str | None = Field(
        default=None,
        description="XYZ tile URL template ({z}/{x}/{y}, optional {s}) or, for wmts, the "
        "service's GetTile address; Web Mercator tiles only.",
    )
    basemap_subdomains: str = Field(
        default="", max_length=16, description="Letters or digits that replace {s} (e.g. abc)."
    )
    basemap_tianditu_key: str = Field(
        default="",
        max_length=64,
        description="The county's 天地图 key (tk, a browser key bound to the site's domain); "
        "it goes only into pages of logged-in users.",
    )
    basemap_tianditu_style: Literal["vec", "img"] = Field(
        default="vec", description="天地图 layer: vec (矢量 + cva 注记) or img (影像 + cia 注记)."
    )
    basemap_wmts_layer: str = Field(default="", max_length=100, description="WMTS LAYER.")
    basemap_wmts_style: str = Field(default="default", max_length=100, description="WMTS STYLE.")
    basemap_wmts_matrix_set: str = Field(
        default="GoogleMapsCompatible",
        max_length=100,
        description="WMTS TILEMATRIXSET: a Web Mercator set whose matrices are named by zoom "
        "(GoogleMapsCompatible; 天地图's is w).",
    )
    basemap_wmts_format: str = Field(
        default="image/png", max_length=40, description="WMTS FORMAT (image/png, image/jpeg)."
    )
    basemap_mbtiles: Path | None = Field(
        default=None,
        description="The MBTiles file served at /tiles (default: basemap.mbtiles beside the "
        "upload folder, e.g. var/basemap.mbtiles; `wangge basemap render` writes it).",
    )
    basemap_max_zoom: int = Field(
        default=18, ge=1, le=22, description="Deepest zoom of the web maps' basemap."
    )
    basemap_crs: str = Field(
        default="EPSG:4490",
        description="Coordinate system of the base-map tiles: EPSG:4490/4326 (天地图, the "
        "district's own tiles, WGS84 sources) or GCJ02 (高德/腾讯 tiles): grids and cases are "
        "then shifted into GCJ-02 for display; a GCJ-02 source left at EPSG:4490 is off by "
        "100–700 m.",
    )
    basemap_attribution: str = Field(
        default="", description="Attribution shown on the web map for the base-map tiles."
    )
    default_language: str = Field(
        default="zh", pattern="^(zh|en)$", description="Language of the web pages (zh or en)."
    )

    def check_secrets(self) -> None:
        """Refuse placeholder passwords outside demo mode (a copied example config, say)."""
        if self.env == "production" and self.audit_key == "wangge-development-audit-key":
            raise ValueError(
                "生产环境必须设置 WANGGE_AUDIT_KEY（审计链密钥） / set WANGGE_AUDIT_KEY (the audit "
                "chain's key) in production"
            )
        self.check_personal_hash_key()
        self.check_sms()
        from wangge.basemap.sources import check_basemap  # one home for the basemap rules

        check_basemap(self)
        if self.demo_mode:
            return
        password = urlsplit(self.database_url).password
        if password is not None and password.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "数据库密码是示例占位符，请在 WANGGE_DATABASE_URL 中设置真实密码"
                "（或仅在演示时设置 WANGGE_DEMO_MODE=true） / the database password is a "
                "placeholder; set a real one in WANGGE_DATABASE_URL (or WANGGE_DEMO_MODE=true "
                "for a demo only)"
            )

    def check_personal_hash_key(self) -> None:
        """Refuse the development search-hash key (or a short one) in production."""
        key = self.personal_hash_key
        if self.env == "production" and (key == DEV_PERSONAL_HASH_KEY or len(key) < 16):
            raise ValueError(
                "生产环境必须设置至少 16 个字符的 WANGGE_PERSONAL_HASH_KEY（身份证号、电话检索散列的"
                "密钥） / set WANGGE_PERSONAL_HASH_KEY (the key of the ID-number and phone search "
                "hashes, at least 16 characters) in production"
            )

    def check_sms(self) -> None:
        """Refuse an SMS gateway configured by halves (it would fail every message later)."""
        if self.sms_gateway == "none":
            return
        missing = [
            f"WANGGE_{name.upper()}"
            for name in ("sms_access_key_id", "sms_sign_name", "sms_template_code")
            if not getattr(self, name)
        ]
        if not self.sms_access_key_secret.get_secret_value():
            missing.append("WANGGE_SMS_ACCESS_KEY_SECRET")
        if missing:
            raise ValueError(
                f"短信网关配置不完整，缺少 {', '.join(missing)} / the SMS gateway needs "
                f"{', '.join(missing)}"
            )

    @property
    def read_urls(self) -> list[str]:
        """Return the replica URLs of `read_database_url`."""
        return [u.strip() for u in (self.read_database_url or "").split(",") if u.strip()]

    @property
    def is_sqlite(self) -> bool:
        """Return True when the embedded SQLite backend is configured."""
        return self.database_url.startswith("sqlite")
