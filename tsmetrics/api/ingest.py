"""POST /ingest: a batch of samples over HTTP, the same format and validation as the queue."""

from __future__ import annotations

import re
import time

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.ingest.batch_format import (
    MAX_BATCH_ID_LENGTH,
    TOO_LARGE,
    BatchRejected,
    parse_with_refresh,
)
from tsmetrics.ingest.catalogue_cache import CatalogueCache, load_catalogue
from tsmetrics.ingest.limits import Limits
from tsmetrics.schemas.ingest import EXAMPLE_BATCH, IngestResponseSchema, SampleBatchSchema
from tsmetrics.store.batches import store_batches
from tsmetrics.store.catalogue_version import read_catalogue_version

blp = ApiBlueprint("ingest", __name__, url_prefix="/ingest", description="Sample ingestion.")
CATALOGUE_KEY = "tsmetrics.catalogue"
JSON = "application/json"
# Visible ASCII: the key is stored and logged, and header values are Latin-1 at best.
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_BATCH_ID_LENGTH}}}")
_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Batch id, 1 to 200 visible ASCII characters (a UUID is ideal). A batch "
    "whose key was stored before is not stored again (200, `duplicate: true`); the same id "
    "space as the queue's message_id. Without it, every request is stored.",
    "schema": {"type": "string", "maxLength": MAX_BATCH_ID_LENGTH},
}


def _catalogue() -> CatalogueCache:
    """This process's catalogue cache, shared by its threads."""
    cache = current_app.extensions.get(CATALOGUE_KEY)
    if cache is None:
        pool = db.get_pool(write=True)  # the names the primary knows, not a lagging replica's

        def load():
            with pool.connection() as conn:
                return load_catalogue(conn)

        def version():
            with pool.connection() as conn:
                return read_catalogue_version(conn)

        cache = current_app.extensions.setdefault(CATALOGUE_KEY, CatalogueCache(load, version))
    return cache


def _read_body(limit: int) -> bytes:
    """The whole request body, or 413 when it is longer than `limit` bytes."""
    # Checked while reading (security/body_limits.py), so a lying or absent
    # Content-Length cannot get past it, and a longer body is never cut.
    request.max_content_length = limit
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        pass
    abort(
        413,
        message=f"The batch is larger than {limit:,} bytes; nothing was stored.",
        errors={"body": [f"At most {limit:,} bytes (TSMETRICS_MAX_MESSAGE_BYTES)."]},
    )


@blp.route("")
class Ingest(MethodView):
    """Sample batches."""

    @blp.doc(
        parameters=[_KEY_PARAMETER],
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": SampleBatchSchema, "example": EXAMPLE_BATCH}
            },
        },
    )
    @blp.response(201, IngestResponseSchema, description="Stored, rollups included.")
    @blp.alt_response(
        200, schema=IngestResponseSchema, description="Duplicate Idempotency-Key: nothing stored."
    )
    @blp.alt_response(400, description="Invalid batch; `errors` names each field path.")
    @blp.alt_response(413, description="More than 10,000 samples or TSMETRICS_MAX_MESSAGE_BYTES.")
    @blp.alt_response(415, description="Content-Type is not application/json.")
    @blp.alt_response(503, description="Database unavailable; see Retry-After.")
    def post(self):
        """Store a batch of samples of one variant of one A/B test

        All or nothing: a batch with any bad sample stores nothing, and the 400
        names every bad field by path (`samples[3].value`). Unknown A/B test,
        variant or metric names are 400s too, like every other error in the body.
        """
        received_at = time.monotonic()  # every A/B test created before now is known
        if request.mimetype != JSON:
            # The body is read as JSON whatever it says it is, so say it: a form or
            # text/plain post (a browser's cross-site "simple request") is refused.
            abort(
                415,
                message="Send the batch as Content-Type: application/json.",
                errors={"Content-Type": [f"Must be {JSON}, not {request.mimetype or 'absent'}."]},
            )
        limits = Limits.from_settings(current_app.config["TSMETRICS"])
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _KEY.fullmatch(key):
            abort(
                400,
                message="Invalid Idempotency-Key.",
                errors={"Idempotency-Key": ["Must be 1 to 200 visible ASCII characters."]},
            )
        body = _read_body(limits.max_bytes)
        try:
            batch = parse_with_refresh(body, _catalogue(), limits, received_at=received_at)
        except BatchRejected as rejected:
            abort(
                413 if rejected.code == TOO_LARGE else 400,
                message=f"The batch was refused ({rejected.code}, {len(rejected.errors):,} "
                "problems); nothing was stored.",
                errors=rejected.errors,
            )
        with db.write_connection() as conn:
            (stored,) = store_batches(conn, [(key, batch.samples)])
        answer = {"stored": len(batch) if stored else 0, "duplicate": not stored, "batchId": key}
        return answer, 201 if stored else 200
