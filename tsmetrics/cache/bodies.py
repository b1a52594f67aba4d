"""Rendered /metrics bodies: one per query, kept under the version stamps of the days they show.

A body is kept under a key made of everything it shows (names, unit, variant,
granularity, range, page) and the version stamps of its days, read before it is
rendered: a repeated request is answered without reading a bucket, serialising
or hashing, and any write to those days changes the key.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import orjson

from tsmetrics.store.buckets import BucketPage, SeriesQuery
from tsmetrics.store.cache_versions import Stamps

# Bodies count against the local cache's budget of buckets at about this size each.
_BYTES_PER_POINT = 250
_DATAPOINTS = b',"datapoints":'


@dataclass(frozen=True)
class Answer:
    """A rendered /metrics body: its ETag, its datapoints' place in it, and whether it is live."""

    body: bytes
    etag: str
    live: bool
    count: int
    points_at: int  # where the JSON array of datapoints starts; it ends before the last "}"

    @property
    def datapoints_json(self) -> bytes:
        """The datapoints as a JSON array, as they appear in the body (a chart embeds them)."""
        return self.body[self.points_at : -1]

    @property
    def weight(self) -> int:
        """Its share of the local cache's budget."""
        return len(self.body) // _BYTES_PER_POINT


def is_live(query: SeriesQuery, now: float | None = None) -> bool:
    """True when the query's last bucket reaches now (or later): its data may still change."""
    last_bucket = (query.end - 1) // query.seconds * query.seconds
    return last_bucket + query.seconds > (time.time() if now is None else now)


def render(query: SeriesQuery, page: BucketPage) -> Answer:
    """The /metrics body of a query's page, in the sketch's shape plus additive fields."""
    head = orjson.dumps(
        {
            "abTest": query.abtest.name,
            "metric": query.metric.name,
            "unit": query.metric.unit,
            "skip": query.skip,
            "limit": query.limit,
            "count": len(page.datapoints),
            "isComplete": page.is_complete,
            "granularity": query.granularity,
            "variant": query.variant,
        }
        | ({"quantiles": list(query.quantiles)} if query.quantiles else {})
    )
    # The datapoints last, written on their own, so a chart can embed them as they are.
    prefix = head[:-1] + _DATAPOINTS
    body = b"".join((prefix, orjson.dumps(page.datapoints), b"}"))
    etag = hashlib.sha1(body, usedforsecurity=False).hexdigest()
    return Answer(body, etag, is_live(query), len(page.datapoints), len(prefix))


def key(query: SeriesQuery, stamps: Stamps) -> str:
    """Everything the body shows, and the version stamps of its days, hashed."""
    abtest, metric = query.abtest, query.metric
    shown = [abtest.id, abtest.name, metric.id, metric.name, metric.unit, query.variant]
    shown += [query.granularity, query.start, query.end, query.skip, query.limit]
    shown += [stamps.epoch, stamps.of(query.start, query.end)]
    if query.quantiles:
        shown.append(list(query.quantiles))
    # "m2": entries are stored with their count and datapoints' offset since;
    # a new key space leaves the older ones, read by no one, to expire.
    return "m2:" + hashlib.sha1(orjson.dumps(shown), usedforsecurity=False).hexdigest()


def encode(answer: Answer) -> bytes:
    """The answer for Redis: a header line, then the body."""
    head = f"{answer.etag} {int(answer.live)} {answer.count} {answer.points_at}\n"
    return head.encode() + answer.body


def decode(data: bytes) -> Answer:
    """The answer encode() wrote."""
    head, body = data.split(b"\n", 1)
    etag, live, count, points_at = head.decode().split(" ")
    return Answer(body, etag, live == "1", int(count), int(points_at))
