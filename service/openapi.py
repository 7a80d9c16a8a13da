"""The kiosk's HTTP API as an OpenAPI 3.0 document (served at ``GET /openapi.json``).

Every status the kiosk gives is listed: each operation's own, and those its server gives any
request (``service.kiosk_server``: 400 for a request it cannot read or a path that is not UTF-8,
405 for another method on a path, 408, 413, 431, 505).
"""

from __future__ import annotations

from lib.votes.message import MAX_BODY_BYTES, Candidate

_ERROR = {
    "description": "refused, with the reason",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _refused(description: str) -> dict:
    return {**_ERROR, "description": description}


# What the server answers any request it refuses before the operation runs.
_ANY_REQUEST = {
    "400": _refused(
        "malformed request (framing, header fields, a path that is not UTF-8 once "
        "percent-decoded) or bad input, with the reason"
    ),
    "405": _refused("a method this path does not take (Allow lists the ones it does)"),
    "408": _refused("the request did not arrive whole within the server's deadline"),
    "413": _refused(f"a body over {MAX_BODY_BYTES} bytes"),
    "431": _refused("a request head over 8 KiB or 50 header fields"),
    "505": _refused("an HTTP version other than 1.0 and 1.1"),
}
# The validators of a cached representation (RFC 9110 8.8): strong, quoted entity tags.
_VALIDATORS = {
    "ETag": {"description": "a strong entity tag", "schema": {"type": "string"}},
    "Last-Modified": {"description": "when it was written", "schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string"}},
}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "entity tags (or *) the client holds: 304 if one matches, weakly (RFC 9110 "
    "13.1.2)",
    "schema": {"type": "string"},
}
_NOT_MODIFIED = {"description": "unchanged: If-None-Match matched", "headers": _VALIDATORS}


def _json(schema: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def openapi_document(kiosk_id: str, candidates: dict[str, Candidate], charts: list[str]) -> dict:
    """The API of kiosk ``kiosk_id`` taking votes for ``candidates``."""
    counts = {
        "type": "object",
        "properties": {c: {"type": "integer", "minimum": 0} for c in candidates},
        "required": list(candidates),
    }
    # A candidate is named by its id, a string; an id that is a decimal integer may be sent as
    # the JSON integer too ({"candidate": 1}), as people write it by hand.
    numbers = [int(c) for c in candidates if c.lstrip("-").isdigit() and str(int(c)) == c]
    named: dict = {"type": "string", "enum": list(candidates)}
    if numbers:
        named = {"oneOf": [named, {"type": "integer", "enum": numbers}]}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"Voting kiosk {kiosk_id}",
            "version": "1.0.0",
            "description": "Votes are handed to the ballot box (RabbitMQ) and acknowledged only "
            "once it confirmed them; results are served from the worker's cache.",
        },
        "paths": {
            "/votes": {
                "post": {
                    "summary": "Cast a vote",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Ballot"}}
                        },
                    },
                    "responses": {
                        **_ANY_REQUEST,
                        "202": _json("Accepted", "the ballot box confirmed the vote"),
                        "401": _refused("no valid bearer token (KIOSK_TOKEN is set)"),
                        "403": _refused("a Host this kiosk does not serve, or a foreign Origin"),
                        "415": _refused("a Content-Type other than application/json"),
                        "429": _refused("over the client's rate (RATE_LIMIT)"),
                        "503": {
                            **_refused("the ballot box cannot take the vote: retry it"),
                            "headers": {
                                "Retry-After": {
                                    "description": "seconds to wait, while the broker blocks "
                                    "publishing",
                                    "schema": {"type": "integer"},
                                }
                            },
                        },
                    },
                }
            },
            "/results": {
                "get": {
                    "summary": "The latest results (from the cache)",
                    "parameters": [_IF_NONE_MATCH],
                    "responses": {
                        **_ANY_REQUEST,
                        "200": {
                            **_json("Results", "the results and how old they are"),
                            "headers": _VALIDATORS,
                        },
                        "304": _NOT_MODIFIED,
                        "503": _refused("no results yet: the worker has not written them"),
                    },
                }
            },
            "/results/{chart}.png": {
                "get": {
                    "summary": "A chart of the latest results",
                    "parameters": [
                        {
                            "name": "chart",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": charts},
                        },
                        _IF_NONE_MATCH,
                    ],
                    "responses": {
                        **_ANY_REQUEST,
                        "200": {
                            "description": "the chart",
                            "headers": _VALIDATORS,
                            "content": {
                                "image/png": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "304": _NOT_MODIFIED,
                        "404": _refused("no such chart"),
                        "503": _refused("no chart yet: the worker has not drawn it"),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Kiosk, broker and cache state",
                    "responses": {
                        **_ANY_REQUEST,
                        "200": _json("Health", "up, broker reachable"),
                        "503": _json(
                            "Health", "up, broker unreachable or blocked, or votes refused"
                        ),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Ballot": {
                    "type": "object",
                    "properties": {
                        "candidate": named,
                        "vote_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                    },
                    "required": ["candidate"],
                    "additionalProperties": False,
                    "description": f"at most {MAX_BODY_BYTES} bytes; a retry sends the same "
                    "vote_id so the vote counts once",
                },
                "Accepted": {
                    "type": "object",
                    "properties": {
                        "vote_id": {"type": "string"},
                        "candidate": {"type": "string"},
                        "kiosk_id": {"type": "string"},
                    },
                    "required": ["vote_id", "candidate", "kiosk_id"],
                },
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
                "Results": {
                    "type": "object",
                    "properties": {
                        "generated_at": {"type": "string", "format": "date-time"},
                        "staleness_seconds": {"type": "number", "minimum": 0},
                        "candidates": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                                "required": ["id", "name"],
                            },
                        },
                        "total_votes": {"type": "integer", "minimum": 0},
                        "other_votes": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "votes for candidates no longer configured",
                        },
                        "totals": counts,
                        "last_10_minutes": counts,
                        "bucket_minutes": {"type": "integer", "minimum": 0},
                        "time_zone": {
                            "type": "string",
                            "description": "the kiosks' IANA time zone (VOTES_TIME_ZONE), in "
                            "which each bucket's local_time is given",
                        },
                        "distribution": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "bucket": {
                                        "type": "string",
                                        "format": "date-time",
                                        "description": "the bucket's start, in UTC",
                                    },
                                    "local_time": {
                                        "type": "string",
                                        "format": "date-time",
                                        "description": "the same instant in time_zone",
                                    },
                                    "votes": counts,
                                },
                                "required": ["bucket", "votes"],
                            },
                        },
                    },
                    "required": [
                        "generated_at",
                        "staleness_seconds",
                        "candidates",
                        "total_votes",
                        "other_votes",
                        "totals",
                        "last_10_minutes",
                        "bucket_minutes",
                        "distribution",
                    ],
                },
                "Health": {
                    "type": "object",
                    "properties": {
                        "kiosk_id": {"type": "string"},
                        "kiosk": {"type": "string"},
                        "broker_reachable": {"type": "boolean"},
                        "broker_blocked": {
                            "type": "string",
                            "nullable": True,
                            "description": "why the broker blocks publishing (a memory or "
                            "disk alarm), while it does",
                        },
                        "cache_age_seconds": {"type": "number", "nullable": True},
                        "refusals": {
                            "type": "object",
                            "description": "requests refused since the kiosk started, by "
                            "status ('other': any status not listed)",
                            "additionalProperties": {"type": "integer", "minimum": 0},
                        },
                    },
                    "required": ["kiosk_id", "kiosk", "broker_reachable"],
                },
            }
        },
    }
