"""The one settings module. Every value comes from the environment (see README).

Nothing here exists only in production: development, CI and production read
the same variables; only their values differ. Importing this module starts
nothing and imports no app: the embedded servers of a fresh clone are started
by the entry points (config.local_services), which export their URLs first.
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from config import embedded, local_services, media_storage
from config.database_url import parse_database_url
from config.env import env_bool, env_choice, env_float, env_int, env_list, env_renamed, env_str, env_thresholds
from config.logs import logging_config
from config.queues import ALL_QUEUES

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = local_services.var_dir()
# Which embedded servers the entry point started for this process tree (set by config.local_services).
EMBEDDED_SERVICES = env_list(local_services.EMBEDDED_VARIABLE)

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (export SECRET_KEY=... or DEBUG=1)")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "drf_spectacular",
    "config",
    "catalog",
    "embeddings",
    "recommender.storefront",
    "recommender.duplicates",
    "recommender.merchandising",
    "recommender.feedback",
    "config.fanout",
]

MIDDLEWARE = [
    # Outermost: every answer (a 413 too) gets its request id, its access line and its metrics.
    "config.logs.RequestLogMiddleware",
    "config.metrics.middleware.MetricsMiddleware",
    "config.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the web process itself (collected into the image), with far-future caching.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After CsrfViewMiddleware: its process_view runs the storefront's views itself (on a replica).
    "config.replicas.ReplicaReadsMiddleware",
    # Last, as django-axes asks: answers a locked-out sign-in with 429.
    "axes.middleware.AxesMiddleware",
]

# Sign-in brute force (the admin's and the staff pages'): after AXES_FAILURE_LIMIT failed
# attempts from one address, sign-ins from it are refused for LOGIN_LOCKOUT_MINUTES. Counted in
# the cache (Redis, shared by every web process); the address is config/client_ip.py's.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner: manage.py's errors stay one line

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL + pgvector only -----------------------------------
DATABASE_URL = env_str("DATABASE_URL")
# Without DATABASE_URL (mypy, `manage.py help`, a process started by hand): where the embedded
# server listens once an entry point has started it. Nothing is started from here.
_database = parse_database_url(DATABASE_URL) if DATABASE_URL else embedded.postgres_settings(VAR_DIR)
_database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
_database["CONN_HEALTH_CHECKS"] = True
_database["OPTIONS"].setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1))
# Web processes: a pool of this many connections per process, shared by its threads (psycopg_pool); 0: none.
# Not for Celery workers: a pool opened before the prefork pool forks would be shared with the children.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0, minimum=0, maximum=200)
if DATABASE_POOL_SIZE:
    # Django checks each connection as it is taken (a server restart breaks none of the requests after it).
    _database["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": _database["OPTIONS"]["connect_timeout"],
    }
    _database["CONN_MAX_AGE"] = 0  # Django: the pool keeps the connections, requests return theirs
_test_name = env_str("TEST_DATABASE_NAME")
if _test_name:
    # Lets two checkouts (or two engineers) run the suite against one server.
    _database["TEST"] = {"NAME": _test_name}
DATABASES = {"default": _database}
# Read replicas (config/replicas.py): shopper reads go to a streaming replica, everything else to
# the primary. Each replica is an alias of its own (replica_1, ...); with replicas, "primary" is a
# second alias of the primary, where a shopper request's writes go (its "default" is the replica).
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
DATABASE_REPLICAS = [f"replica_{number}" for number in range(1, len(DATABASE_REPLICA_URLS) + 1)]
for _alias, _url in zip(DATABASE_REPLICAS, DATABASE_REPLICA_URLS, strict=True):
    _replica = parse_database_url(_url, variable="DATABASE_REPLICA_URLS")
    _replica.update(CONN_MAX_AGE=_database["CONN_MAX_AGE"], CONN_HEALTH_CHECKS=True, TEST={"MIRROR": "default"})
    _replica["OPTIONS"] = {**_database["OPTIONS"], **_replica["OPTIONS"]}
    DATABASES[_alias] = _replica
if DATABASE_REPLICAS:
    DATABASES["primary"] = {**_database, "OPTIONS": dict(_database["OPTIONS"]), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"]
# A replica further behind than this (seconds of WAL not yet replayed) is skipped until it catches up.
DATABASE_REPLICA_MAX_LAG = env_float("DATABASE_REPLICA_MAX_LAG", 5.0, minimum=0.0)
# Seconds a web process trusts its last look at a replica (up, lag) before looking again.
DATABASE_REPLICA_CHECK_INTERVAL = env_float("DATABASE_REPLICA_CHECK_INTERVAL", 2.0, minimum=0.1)
# Read-your-writes: a client that wrote reads from the primary for this long. Must cover the lag a
# replica may have and still be used (MAX_LAG, seen up to CHECK_INTERVAL late), or a client could
# write and then read its old data from a replica.
DATABASE_REPLICA_PIN_SECONDS = env_float("DATABASE_REPLICA_PIN_SECONDS", 10.0, minimum=0.0)
if DATABASE_REPLICAS and DATABASE_REPLICA_PIN_SECONDS < DATABASE_REPLICA_MAX_LAG + DATABASE_REPLICA_CHECK_INTERVAL:
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_PIN_SECONDS must be at least DATABASE_REPLICA_MAX_LAG + DATABASE_REPLICA_CHECK_INTERVAL "
        f"({DATABASE_REPLICA_MAX_LAG} + {DATABASE_REPLICA_CHECK_INTERVAL}), got {DATABASE_REPLICA_PIN_SECONDS}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis / Celery ---------------------------------------------------------
REDIS_URL = env_str("REDIS_URL") or embedded.LOCAL_REDIS_URL
if not REDIS_URL.startswith(("redis://", "rediss://", "redis+socket://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or redis+socket://, got {REDIS_URL!r}")
CELERY_BROKER_URL = REDIS_URL
# No result backend: no caller waits for a task's result, and Celery's Redis result backend
# subscribes on every send and, after a broker outage, leaves the web process unable to send
# again until it restarts ("The Celery application must be restarted").
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 1, minimum=1)
# What `manage.py worker` consumes unless --queues says (config/queues.py): `embeddings` on the
# machines with a GPU, `default` on the others, both on a single machine.
WORKER_QUEUES = env_list("WORKER_QUEUES", default=ALL_QUEUES)
if not WORKER_QUEUES or set(WORKER_QUEUES) - set(ALL_QUEUES):
    raise ImproperlyConfigured(f"WORKER_QUEUES must name some of {', '.join(ALL_QUEUES)}, got {WORKER_QUEUES}")
# Seconds an image may stay pending before the sweeper re-enqueues it.
EMBEDDING_PENDING_TIMEOUT = env_int("EMBEDDING_PENDING_TIMEOUT", 120, minimum=5)
# Photos a worker claims (and commits) per transaction; also photos per queued message.
EMBEDDING_CLAIM_BATCH_SIZE = env_int(
    env_renamed("EMBEDDING_CLAIM_BATCH_SIZE", "EMBEDDING_BATCH_SIZE"), 64, minimum=1, maximum=4096
)
# Seconds between two sweeps for photos left pending (a lost message, a killed worker, a broker outage).
EMBEDDING_SWEEP_INTERVAL = env_int("EMBEDDING_SWEEP_INTERVAL", 30, minimum=1)
# Read by the one `beat` (manage.py worker --beat).
CELERY_BEAT_SCHEDULE = {
    # Re-enqueues photos left pending longer than EMBEDDING_PENDING_TIMEOUT.
    "embeddings-sweep-pending": {
        "task": "embeddings.sweep_pending_images",
        "schedule": float(EMBEDDING_SWEEP_INTERVAL),
    },
    # Storefront bookkeeping: cold-start clusters recomputed before their cache expires; log retention.
    "storefront-refresh-starter-clusters": {
        "task": "recommender.storefront.tasks.refresh_starter_clusters",
        "schedule": 1800.0,
    },
    "storefront-prune-logs": {"task": "recommender.storefront.tasks.prune_recommendation_logs", "schedule": 86400.0},
}
# Hours between two full rebuilds of the stored neighbour lists (0: never; `manage.py neighbours_rebuild`).
NEIGHBOURS_REBUILD_HOURS = env_int("NEIGHBOURS_REBUILD_HOURS", 24, minimum=0, maximum=24 * 30)
if NEIGHBOURS_REBUILD_HOURS:
    CELERY_BEAT_SCHEDULE["embeddings-rebuild-neighbour-lists"] = {
        "task": "embeddings.rebuild_neighbour_lists",
        "schedule": NEIGHBOURS_REBUILD_HOURS * 3600.0,
    }
# Celery task names sent the ids of freshly embedded photos once their vectors commit.
EMBEDDING_DONE_TASKS = env_list(
    "EMBEDDING_DONE_TASKS", default=["recommender.duplicates.tasks.duplicates_check_images"]
)

# --- Embeddings ------------------------------------------------------------
EMBEDDINGS_PROFILE = env_choice("EMBEDDINGS_PROFILE", "lite", ["full", "lite"])
# Empty means "the profile's default"; a registry name overrides one space.
EMBEDDINGS_VISUAL_ENCODER = env_str("EMBEDDINGS_VISUAL_ENCODER")
EMBEDDINGS_SEMANTIC_ENCODER = env_str("EMBEDDINGS_SEMANTIC_ENCODER")
# How the encoders run, handed to the Django-free embeddings.encoders as EncoderOptions (embeddings/apps.py).
EMBEDDINGS_MODEL_DIR = env_str("EMBEDDINGS_MODEL_DIR")
EMBEDDINGS_DEVICE = env_choice("EMBEDDINGS_DEVICE", "auto", ["auto", "cpu", "cuda", "mps"])
# auto: bf16 only where the CPU has AMX (on AVX2-only CPUs bf16 is ~12x slower than fp32).
EMBEDDINGS_CPU_DTYPE = env_choice("EMBEDDINGS_CPU_DTYPE", "auto", ["auto", "bf16", "fp32"])
# Images per forward pass; 0 means the device's default (256 on CUDA, 16 elsewhere).
EMBEDDINGS_FORWARD_BATCH_SIZE = env_int(
    env_renamed("EMBEDDINGS_FORWARD_BATCH_SIZE", "EMBEDDINGS_BATCH_SIZE"), 0, minimum=0, maximum=4096
)
# Who runs the forward pass: auto is ONNX Runtime for fp32 on the CPU, torch on GPUs and bf16 CPUs.
EMBEDDINGS_BACKEND = env_choice("EMBEDDINGS_BACKEND", "auto", ["auto", "torch", "onnx"])
# Exported ONNX graphs, one per encoder identity (made on first use, checked on every load).
EMBEDDINGS_ONNX_CACHE_DIR = Path(
    env_str("EMBEDDINGS_ONNX_CACHE_DIR")
    or (Path(EMBEDDINGS_MODEL_DIR) / ".onnx" if EMBEDDINGS_MODEL_DIR else VAR_DIR / "onnx")
)
# Threads decoding and resizing photos beside the forward pass; 0: a quarter of the cores (at least one).
EMBEDDINGS_DECODE_WORKERS = env_int("EMBEDDINGS_DECODE_WORKERS", 0, minimum=0, maximum=64)
# Threads of one forward pass; 0: the cores this process may use, less the decode threads (never more).
EMBEDDINGS_COMPUTE_THREADS = env_int("EMBEDDINGS_COMPUTE_THREADS", 0, minimum=0, maximum=256)
# Web processes load the query encoders at start (embeddings/warmup.py) instead of on the first search.
WEB_PRELOAD_ENCODERS = env_bool("WEB_PRELOAD_ENCODERS", default=True)
# huggingface_hub reads these itself; the encoders need them to say why weights are missing.
HF_HUB_OFFLINE = env_bool("HF_HUB_OFFLINE") or env_bool("TRANSFORMERS_OFFLINE")
# Share of a product's own words (title, brand, category, attributes, description) in its semantic vector,
# through the semantic encoder's text tower (embeddings.encoders.multimodal); 0 keeps the photos' mean alone.
# Search by photo always compares photos only. 0.5 measured best by bench/multimodal_quality.py (lite,
# Fashion-MNIST: semantic precision@10 0.565 at 0 -> 0.822 at 0.5, 0.769 at 0.7).
SEMANTIC_TEXT_WEIGHT = env_float("SEMANTIC_TEXT_WEIGHT", 0.5, minimum=0.0, maximum=1.0)
# Re-enqueues products whose words stayed dirty longer than EMBEDDING_PENDING_TIMEOUT (embeddings.texts).
CELERY_BEAT_SCHEDULE["embeddings-sweep-dirty-texts"] = {
    "task": "embeddings.sweep_dirty_product_texts",
    "schedule": float(EMBEDDING_SWEEP_INTERVAL),
}

# --- Duplicate listings (recommender.duplicates) -------------------------------
# Visual cosine-similarity floors per encoder registry name: near-duplicate and
# similar tiers, and the floor at which a close pHash makes a near-duplicate.
# efficientnet-lite0 is calibrated at a catalogue's base rate by bench/duplicates_base_rate.py
# (BENCHMARKS.md): on the demo catalogue the balanced-set floors (0.85/0.82/0.75, from
# bench/duplicates_eval.py) flagged ~8,600 pairs at 1% precision, since two million pairs of
# look-alike garments outnumber the re-listings. There the pixels alone cannot tell a cropped or
# stickered re-listing from another T-shirt; its unchanged title and brand can (TITLED: the
# visual floor at which they make a near-duplicate). dinov2-base is not calibrated (no weights
# offline). Override as DUPLICATES_THRESHOLDS=name=NEAR/SIMILAR[/HASHED[/TITLED]],other=NEAR/SIMILAR.
DUPLICATES_THRESHOLDS = env_thresholds(
    "DUPLICATES_THRESHOLDS",
    {
        "efficientnet-lite0": {"near": 0.93, "similar": 0.93, "titled": 0.85},
        "dinov2-base": {"near": 0.85, "similar": 0.70},
    },
)
# Perceptual-hash bits that may differ for a pair to count as an exact copy (or, in another
# orientation, a turned copy): evidence on its own unless the photo is flat. Up to 4 bits the
# upload check finds such photos anywhere in the catalogue (catalog.models.images.PHASH_CHUNKS).
# 2, not 4: on the demo catalogue 130 pairs of different garments were exactly 4 bits apart,
# against 3 of 31 hashed re-listings (bench/duplicates_base_rate.py).
DUPLICATES_PHASH_MAX_DISTANCE = env_int("DUPLICATES_PHASH_MAX_DISTANCE", 2, minimum=0, maximum=32)
# pHash bits within which the encoder's HASHED visual floor makes a near-duplicate.
DUPLICATES_PHASH_NEAR_DISTANCE = env_int("DUPLICATES_PHASH_NEAR_DISTANCE", 12, minimum=0, maximum=32)
# Neighbours fetched per photo (k-NN LIMIT); the threshold is applied afterwards.
DUPLICATES_KNN_LIMIT = env_int("DUPLICATES_KNN_LIMIT", 20, minimum=2, maximum=500)

# --- make demo ------------------------------------------------------------------
DEMO_CATALOG_LIMIT = env_int("DEMO_CATALOG_LIMIT", 2000, minimum=1, maximum=100_000)
# Empty: a random password, printed at start.
DEMO_ADMIN_PASSWORD = env_str("DEMO_ADMIN_PASSWORD")

# --- Media / static ----------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# whitenoise: with DEBUG, files straight from the apps (nothing collected); else STATIC_ROOT, gzip-compressed.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Photos and thumbnails (config/media_storage.py): under MEDIA_ROOT, or in an S3-compatible bucket
# that web and worker machines share.
MEDIA_STORAGE = env_choice("MEDIA_STORAGE", "filesystem", ["filesystem", "s3"])
if MEDIA_STORAGE == "s3":
    _bucket = env_str("AWS_STORAGE_BUCKET_NAME")
    if not _bucket:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (the bucket holding the photos)")
    STORAGES["default"] = media_storage.s3_storage(
        bucket=_bucket,
        endpoint_url=env_str("AWS_S3_ENDPOINT_URL"),
        region=env_str("AWS_S3_REGION_NAME"),
        access_key=env_str("AWS_ACCESS_KEY_ID"),
        secret_key=env_str("AWS_SECRET_ACCESS_KEY"),
        location=env_str("AWS_LOCATION"),
        custom_domain=env_str("AWS_S3_CUSTOM_DOMAIN"),
        signed_urls=env_bool("AWS_QUERYSTRING_AUTH", default=True),
        url_expiry=env_int("AWS_QUERYSTRING_EXPIRE", 3600, minimum=60, maximum=7 * 24 * 3600),
        addressing_style=env_choice("AWS_S3_ADDRESSING_STYLE", "auto", ["auto", "path", "virtual"]),
        timeout=env_float("MEDIA_STORAGE_TIMEOUT", 10.0, minimum=0.5, maximum=300.0),
    )
SERVE_MEDIA = env_bool("SERVE_MEDIA", default=DEBUG)
# The staff-only catalogue map files: private, served by the staff view alone (never under MEDIA_ROOT).
CATALOG_MAP_ROOT = Path(env_str("CATALOG_MAP_ROOT") or VAR_DIR / "maps")

# --- Uploads and fetching --------------------------------------------------
IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 40_000_000, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = IMAGE_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = IMAGE_MAX_BYTES + 1024 * 1024
# A larger body is refused from its Content-Length before it is read (config/middleware.py): a photo plus its form.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", IMAGE_MAX_BYTES + 1024 * 1024, minimum=IMAGE_MAX_BYTES)
# JSON bodies (config/parsers.py): refused above this size or nesting, before json.loads sees them.
API_MAX_JSON_BYTES = env_int("API_MAX_JSON_BYTES", 1024 * 1024, minimum=1024)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32, minimum=4, maximum=256)
FETCH_TIMEOUT_SECONDS = env_float("FETCH_TIMEOUT_SECONDS", 10.0, minimum=0.1)
FETCH_MAX_REDIRECTS = env_int("FETCH_MAX_REDIRECTS", 3, minimum=0, maximum=20)
FETCH_ALLOW_PRIVATE_ADDRESSES = env_bool("FETCH_ALLOW_PRIVATE_ADDRESSES", default=False)

# --- API -------------------------------------------------------------------
# Proxies in front of the web processes that append to X-Forwarded-For (config/client_ip.py).
# 0: the header is ignored and the peer address identifies the client; N: the N-th from the right.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0, maximum=10)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "120/min"),
        "user": env_str("THROTTLE_USER", "600/min"),
        "storefront": env_str("THROTTLE_STOREFRONT", "6000/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    # Read by DRF's own throttles; ours and the sign-in lockout use config/client_ip.py, same rule.
    "NUM_PROXIES": NUM_PROXIES,
}
# --- Storefront queries (recommender.storefront) --------------------------------
# Results are ranked in windows of this many; pages inside one window share one
# candidate pool, which is what keeps offset pagination stable.
RECOMMENDER_PAGE_WINDOW = env_int("RECOMMENDER_PAGE_WINDOW", 60, minimum=10, maximum=500)
RECOMMENDER_MAX_DEPTH = env_int("RECOMMENDER_MAX_DEPTH", 480, minimum=100, maximum=5000)
# "More like this" leaves out products with the source's title and brand (case and spacing folded):
# a re-listing keeps both even when its photo is edited past what the duplicate detector can pair
# (bench/quality.py: 15 of 68 such copies were listed with this off). Off for a shop whose titles
# are generic ("Classic tee" by one brand for fifty designs), where it would hide real alternatives.
SIMILAR_EXCLUDE_SAME_LISTING = env_bool("SIMILAR_EXCLUDE_SAME_LISTING", True)
# Hybrid "more like this": the visual space's share of the blend when the request names no weights
# (semantic_weight defaults to the rest). By profile, from bench/quality.py's sweep (BENCHMARKS.md):
# lite, whose semantic vectors blend in the products' words, peaked at 0.1-0.3 (p@10 0.845, against
# 0.809 at 0.5 and 0.832 for semantic alone); 0.3 is the plateau's edge nearest the photos. full: no
# DINOv2 or SigLIP weights are reachable here to measure, so the two spaces weigh the same.
SIMILAR_VISUAL_WEIGHT = env_float(
    "SIMILAR_VISUAL_WEIGHT", {"lite": 0.3, "full": 0.5}[EMBEDDINGS_PROFILE], minimum=0.0, maximum=1.0
)
# 100 gave recall@10 0.87 unfiltered at 1M x 768-d (m=16, ef_construction=64); 200 with the
# indexes' ef_construction 128 gives 0.997 (embeddings/vector_indexes.py); see BENCHMARKS.md.
RECOMMENDER_EF_SEARCH = env_int("RECOMMENDER_EF_SEARCH", 200, minimum=10, maximum=1000)
RECOMMENDER_MAX_SCAN_TUPLES = env_int("RECOMMENDER_MAX_SCAN_TUPLES", 50_000, minimum=1000)
# Filters estimated to match at most this many rows (or sqrt(4 * k * catalogue rows), if more)
# are answered by an exact scan; see recommender/storefront/selectors/planning.py.
RECOMMENDER_EXACT_MAX_ROWS = env_int("RECOMMENDER_EXACT_MAX_ROWS", 3000, minimum=0)
# Relative cost of a node visited by an iterative HNSW scan against a row of an exact scan
# (at 1M x 768-d, a 1% filter ran 780 ms iteratively; see BENCHMARKS.md).
RECOMMENDER_EXACT_COST_RATIO = env_float("RECOMMENDER_EXACT_COST_RATIO", 4.0, minimum=0.0)
# Filters matching at least this share of the catalog run a plain HNSW scan.
RECOMMENDER_BROAD_FRACTION = env_float("RECOMMENDER_BROAD_FRACTION", 0.3, minimum=0.01, maximum=1.0)
# Stored neighbours per product and space (embeddings/neighbours.py): "more like this" is served
# from them while their first window's worth passes the request's filters.
RECOMMENDER_NEIGHBOURS = env_int("RECOMMENDER_NEIGHBOURS", 100, minimum=10, maximum=1000)
RECOMMENDER_STARTER_CLUSTERS = env_int("RECOMMENDER_STARTER_CLUSTERS", 24, minimum=2, maximum=200)
RECOMMENDER_STARTER_SAMPLE = env_int("RECOMMENDER_STARTER_SAMPLE", 5000, minimum=100)
RECOMMENDER_STARTER_TTL = env_int("RECOMMENDER_STARTER_TTL", 3600, minimum=10)
RECOMMENDER_LOG_RETENTION_DAYS = env_int("RECOMMENDER_LOG_RETENTION_DAYS", 30, minimum=1)
# --- Feedback events and popularity (recommender.feedback) ---------------------
# Popularity halves every this many hours without new clicks or purchases (recommender/feedback/decay.py).
FEEDBACK_POPULARITY_HALF_LIFE_HOURS = env_float(
    "FEEDBACK_POPULARITY_HALF_LIFE_HOURS", 72.0, minimum=1.0, maximum=24 * 365
)
# Seconds between two popularity updates (beat): how far behind the events popularity may be.
FEEDBACK_POPULARITY_INTERVAL = env_int("FEEDBACK_POPULARITY_INTERVAL", 60, minimum=5, maximum=86400)
FEEDBACK_RETENTION_DAYS = env_int("FEEDBACK_RETENTION_DAYS", 90, minimum=1)
CELERY_BEAT_SCHEDULE["feedback-popularity-update"] = {
    "task": "recommender.feedback.tasks.popularity_update",
    "schedule": float(FEEDBACK_POPULARITY_INTERVAL),
}
CELERY_BEAT_SCHEDULE["feedback-prune"] = {"task": "recommender.feedback.tasks.prune_feedback", "schedule": 86400.0}
SEARCH_MAX_QUERY_LENGTH = env_int("SEARCH_MAX_QUERY_LENGTH", 256, minimum=16, maximum=4096)
# Full-text matches ranked per search (each costs a to_tsvector): bounds a query for a common word.
SEARCH_TEXT_MATCHES = env_int("SEARCH_TEXT_MATCHES", 500, minimum=10, maximum=100_000)

SPECTACULAR_SETTINGS = {
    "TITLE": "Lookalike API",
    "DESCRIPTION": "More-like-this, text search, search by photo and cold-start recommendations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, so a multipart file field is `format: binary`
    # (an upload in Swagger and in generated clients), not the response's URL string.
    "COMPONENT_SPLIT_REQUEST": True,
    # An optional query parameter sent empty counts as not sent (config/api.py says why).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.optional_query_parameters_may_be_empty",
    ],
}
# Throttle counters must be shared by every web process: keep them in Redis. A database of
# their own (CACHE_URL=redis://host:6379/1) keeps a cache flush away from the broker's messages.
CACHE_URL = env_str("CACHE_URL") or REDIS_URL
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "lookalike"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOGIN_URL = "/staff/login/"
LOGIN_REDIRECT_URL = "/staff/duplicates/"
LOGOUT_REDIRECT_URL = "/"

# json: one JSON object per line with the request id (config/logs.py), what the containers write.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ["text", "json"])
LOGGING = logging_config(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))

# --- Web server (manage.py serve: gunicorn) and metrics ------------------------------
WEB_BIND = env_str("WEB_BIND", "127.0.0.1:8000")
WEB_WORKERS = env_int("WEB_WORKERS", 2, minimum=1, maximum=64)
# Threads per worker: requests mostly wait on PostgreSQL, so a few threads keep a worker busy.
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1, maximum=64)
WEB_TIMEOUT = env_int("WEB_TIMEOUT", 120, minimum=10)
# Who may read /metrics (config/metrics/access.py): a bearer token, client networks, or both; neither: nobody.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (10.0.0.0/8)") from None
# The worker's main process serves its own /metrics on this port; 0: not served.
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0, minimum=0, maximum=65535)
# prometheus-client's multiprocess folder (it reads the variable itself); unset, serve and the worker pick one.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")

# --- HTTPS (production defaults; `manage.py check --deploy` is clean with them) --------
# With DEBUG off, cookies travel over HTTPS only, plain HTTP is redirected and browsers are
# told (HSTS) to use HTTPS for a year. Behind a proxy that terminates TLS, say which header
# carries the scheme (SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https), or every request
# looks like plain HTTP and is redirected. The probes stay reachable over plain HTTP.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER")
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be HEADER,VALUE, e.g. HTTP_X_FORWARDED_PROTO,https")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1]) if _proxy_ssl_header else None
# HSTS preload is a submission to the browsers' lists that a shop opts into itself, not a default.
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS", default=["security.W021"])
