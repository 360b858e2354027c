"""Process-wide wiring for the Function App: settings read once, one Graph client, one storage client.

Every setting is parsed on first use and kept: nothing re-reads the environment per chunk or per request.

Nothing is built at import time: ``services()`` builds on first use and keeps the result for the life
of the worker process, so the token cache, TLS connections and httpx pool are reused across
invocations (the Functions host keeps a Python worker process alive between them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from provisioning.core.sync_rows import SyncSettings
from provisioning.entrypoints.http.access import ApiAccess, ApiAccessSettings, build_access
from provisioning.entrypoints.http.handlers import ApiDeps
from provisioning.graph.client import GraphClient
from provisioning.graph.paths import GraphPaths
from provisioning.graph.stack import GraphStack, build_graph_stack
from provisioning.settings import InputLimits, Settings
from provisioning.storage.account import StorageSettings, build_blob_service, build_queue, ensure_resources
from provisioning.storage.blobs import BlobStore
from provisioning.storage.jobs import JobStore
from provisioning.storage.presence import Presence
from provisioning.storage.report_blobs import ReportStore
from provisioning.storage.work_queue import WorkQueue
from provisioning.use_cases.executor import ChunkExecutor
from provisioning.use_cases.finish_job import JobFinisher
from provisioning.use_cases.pipeline import Pipeline


@dataclass
class Services:
    """What the triggers need; Graph is built lazily (the CSV fan-out never calls Graph)."""

    env: Mapping[str, str]
    storage: StorageSettings
    blobs: BlobStore
    jobs: JobStore
    finisher: JobFinisher
    _settings: Settings | None = None
    _limits: InputLimits | None = None
    _sync: SyncSettings | None = None
    _deps: ApiDeps | None = None
    _stack: GraphStack | None = None
    _presence: Presence | None = None
    _access: ApiAccess | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self) -> Settings:
        """Every Graph setting, parsed once (a ``ConfigurationError`` is raised again on each use)."""
        if self._settings is None:
            self._settings = Settings.from_env(self.env)
        return self._settings

    def limits(self) -> InputLimits:
        """The input limits (region, file size, rows): all the CSV fan-out reads, never Graph's settings."""
        if self._limits is None:
            self._limits = Settings.offline(self.env)
        return self._limits

    def stack(self) -> GraphStack:
        """The process's Graph clients: one MSAL app and token cache, one connection pool, one pacer."""
        with self._lock:
            if self._stack is None:
                self._stack = build_graph_stack(self.settings())
            return self._stack

    def graph(self) -> GraphClient:
        """One request at a time: the directory reads of the sync and the HTTP endpoint's small requests."""
        return self.stack().graph

    def chunk_executor(self) -> ChunkExecutor:
        """Chunks through JSON $batch, on the same connections and pacer as ``graph()``.

        The first call also joins the worker presence: from then on the pacer asks, before each
        envelope, how many worker processes share Graph's per-app budget (refreshed every tenth of the
        write window, 15 s), and paces this one at its share.
        """
        stack = self.stack()
        with self._lock:
            if self._presence is None:
                interval = self.settings().write_window_s / 10
                self._presence = Presence(self.blobs, self.storage.state_container, interval_s=interval,
                                          ttl_s=3 * interval)  # fmt: skip
                stack.pacer.follow(self._presence.share)
        root = self.settings().graph_root
        return ChunkExecutor(stack.batch, GraphPaths(root), root)

    def sync_settings(self) -> SyncSettings:
        if self._sync is None:
            self._sync = SyncSettings.from_env(self.env)
        return self._sync

    def api_access(self) -> ApiAccess:
        """The endpoint's gate, one per process: its rate buckets and the issuer's keys outlive a request.

        Raises ``ConfigurationError`` (answered 503) while the ``PROVISIONING_API_*`` settings are invalid.
        """
        with self._lock:
            if self._access is None:
                self._access = build_access(ApiAccessSettings.from_env(self.env))
            return self._access

    def api_deps(self) -> ApiDeps:
        """The endpoint's dependencies, built once; ``PROVISIONING_CONCURRENCY`` is held to 1..64."""
        if self._deps is None:
            self._deps = ApiDeps(
                executor=self.chunk_executor,
                jobs=Pipeline(self.jobs, self.finisher, taper=self.limits().paced_writes),
                default_region=self.limits().default_region,
                concurrency=Settings.concurrency_of(self.env),
                access=self.api_access(),
            )
        return self._deps

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        if self._access is not None:
            self._access.close()


_services: Services | None = None
_services_lock = threading.Lock()


def build_services(env: Mapping[str, str]) -> Services:
    """Services for *env*; storage containers and queues are created when missing."""
    storage = StorageSettings.from_env(env)
    ensure_resources(storage)
    blobs = BlobStore(build_blob_service(storage))
    queue = WorkQueue(build_queue(storage, storage.work_queue))
    jobs = JobStore(blobs, storage, queue)
    return Services(dict(env), storage, blobs, jobs, JobFinisher(jobs, ReportStore(blobs, storage)))


def services() -> Services:
    """The process-wide services, built from ``os.environ`` on first use."""
    global _services
    with _services_lock:
        if _services is None:
            _services = build_services(os.environ)
        return _services


def reset_services() -> None:
    """Forget the process-wide services (tests that change the environment between runs)."""
    global _services
    with _services_lock:
        if _services is not None:
            _services.close()
        _services = None
