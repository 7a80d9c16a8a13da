"""The kiosk's HTTP API as an OpenAPI 3.0 document (served at ``GET /openapi.json``)."""

from __future__ import annotations

from lib.votes.message import MAX_BODY_BYTES, Candidate

_ERROR = {
    "description": "refused, with the reason",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


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
                        "202": _json("Accepted", "the ballot box confirmed the vote"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                        "408": _ERROR,
                        "413": _ERROR,
                        "415": _ERROR,
                        "429": _ERROR,
                        "503": _ERROR,
                    },
                }
            },
            "/results": {
                "get": {
                    "summary": "The latest results (from the cache)",
                    "responses": {
                        "200": _json("Results", "the results and how old they are"),
                        "304": {"description": "unchanged since the ETag given"},
                        "503": _ERROR,
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
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the chart",
                            "content": {"image/png": {"schema": {"type": "string"}}},
                        },
                        "404": _ERROR,
                        "503": _ERROR,
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Kiosk, broker and cache state",
                    "responses": {
                        "200": _json("Health", "up, broker reachable"),
                        "503": _json("Health", "up, broker unreachable"),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Ballot": {
                    "type": "object",
                    "properties": {
                        "candidate": {"type": "string", "enum": list(candidates)},
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
                        "total_votes": {"type": "integer", "minimum": 0},
                        "totals": counts,
                        "last_10_minutes": counts,
                        "bucket_minutes": {"type": "integer"},
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
                                "required": ["bucket", "local_time", "votes"],
                            },
                        },
                    },
                    "required": ["generated_at", "staleness_seconds", "total_votes", "totals"],
                },
                "Health": {
                    "type": "object",
                    "properties": {
                        "kiosk_id": {"type": "string"},
                        "kiosk": {"type": "string"},
                        "broker_reachable": {"type": "boolean"},
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
