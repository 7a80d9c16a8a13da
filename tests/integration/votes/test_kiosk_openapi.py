"""The kiosk's published OpenAPI description, checked against the live service by schemathesis:
every response conforms to it, invalid requests are refused, valid ones accepted, no 5xx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ST = Path(sys.executable).with_name("st")


def test_the_live_kiosk_conforms_to_its_openapi_description(vote_system, tmp_path):
    vote_system.start_worker()
    _, client = vote_system.start_kiosk("k-openapi")
    status, headers, body = client.request("GET", "/openapi.json")
    document = json.loads(body)
    assert status == 200 and document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/votes", "/results", "/results/{chart}.png", "/health"}
    candidate = document["components"]["schemas"]["Ballot"]["properties"]["candidate"]
    assert [named["enum"] for named in candidate["oneOf"]] == [["1", "2", "3"], [1, 2, 3]]
    vote_system.wait_for_total(0)  # results exist, so /results answers 200
    run = subprocess.run(
        [
            str(ST),
            "run",
            f"http://127.0.0.1:{client.port}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "50",
            "--seed",
            "1995",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout
