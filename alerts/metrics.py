"""Prometheus metrics of one running bot, in a registry of its own.

A registry per service rather than prometheus-client's global one: tests run several services
in one process, and a global registry refuses a second metric of the same name. Counters are
incremented where the events happen (polls, ingests, sends); gauges that need the database
(outbox depth, subscribers) are refreshed by the heartbeat on the store's thread, so a scrape
never touches SQLite from the HTTP thread.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Every metric the bot exports; names follow Prometheus conventions (``_total``, units)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(namespace="alerts", registry=self.registry)  # memory, CPU, open fds
        r = self.registry
        self.polls = Counter(
            "alerts_feed_polls",
            "Feed polls by outcome: ok (new body parsed), unchanged (304 or same bytes), failed.",
            ["feed", "outcome"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "alerts_poll_duration_seconds",
            "Time to poll one feed: fetch, parse, match and store.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.items_new = Counter(
            "alerts_items_new", "Items seen for the first time.", ["feed"], registry=r
        )
        self.items_matched = Counter(
            "alerts_items_matched", "New items matched, per rule.", ["rule"], registry=r
        )
        self.messages = Counter(
            "alerts_messages",
            "Messages handed to Telegram (or the console) by outcome: sent, retried (429, "
            "network error or 5xx; the message stays queued), failed (refused for good).",
            ["kind", "outcome"],
            registry=r,
        )
        self.outbox_depth = Gauge("alerts_outbox_depth", "Messages waiting to be sent.", registry=r)
        self.subscribers = Gauge("alerts_subscribers", "Active subscribed chats.", registry=r)
        self.feed_failures = Gauge(
            "alerts_feed_consecutive_failures",
            "Consecutive failed polls of each feed (0 when healthy).",
            ["feed"],
            registry=r,
        )
        self.last_poll = Gauge(
            "alerts_last_poll_timestamp_seconds",
            "When a feed was last polled, as a Unix time.",
            registry=r,
        )
        self.heartbeat = Gauge(
            "alerts_heartbeat_timestamp_seconds",
            "When the scheduler last wrote its heartbeat to the database, as a Unix time.",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
