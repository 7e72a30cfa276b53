"""Prometheus metrics for the web server, on a registry owned by one application."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class HttpMetrics:
    def __init__(self) -> None:
        # One registry per application, so two apps in one process (tests) never collide.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "minzheng_http_requests_total",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "minzheng_http_request_duration_seconds",
            "Time from request to response, by route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        # What the console's 数据 page shows, over the last 24 hours (refreshed at most every
        # 30 s, when scraped).
        self.questions = Gauge(
            "minzheng_questions_24h",
            "Residents' questions in the last 24 hours, answered or fallback.",
            ["outcome"],
            registry=self.registry,
        )
        self.answer_rate = Gauge(
            "minzheng_answer_rate_24h",
            "Share of the last 24 hours' questions answered by an entry.",
            registry=self.registry,
        )
        self.feedback = Gauge(
            "minzheng_feedback_24h",
            "Feedback on answers in the last 24 hours, helpful or not.",
            ["helpful"],
            registry=self.registry,
        )
        self.entries = Gauge(
            "minzheng_kb_entries",
            "Knowledge-base entries by review state.",
            ["state"],
            registry=self.registry,
        )
        # The reminders' outbox, read from the database with the numbers above (every replica
        # reports the same).
        self.reminder_outbox = Gauge(
            "minzheng_reminder_outbox",
            "Reminders in the outbox, by state.",
            ["state"],
            registry=self.registry,
        )
        self.reminder_outbox_lag = Gauge(
            "minzheng_reminder_outbox_lag_seconds",
            "How long the longest-waiting due reminder has waited to be sent (0: none waits).",
            registry=self.registry,
        )
        self.refreshed = 0.0

    def middleware(self) -> web.middleware:  # type: ignore[valid-type]
        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                # The route template, never the raw path, keeps label cardinality bounded.
                resource = request.match_info.route.resource
                route = resource.canonical if resource is not None else "unmatched"
                self.requests.labels(request.method, route, str(status)).inc()
                self.latency.labels(request.method, route).observe(time.perf_counter() - started)

        return measure

    def render(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response
