"""lib.logs.report.html: the answers from results.json, and report.html from an executed notebook
(without code, images inline, nothing to fetch)."""

from __future__ import annotations

import base64
import json
import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lib.logs.report.html import html_report, main, write_html_report

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e2ff1f3e0000000049454e44ae426082"
    )
).decode()


def executed_notebook() -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: markdown, code with a chart and a printed line."""
    chart = new_code_cell(
        "fig = secret_chart_function(result)\nfig",
        outputs=[new_output("execute_result", {"image/png": PNG, "text/plain": "<Figure>"})],
        execution_count=1,
    )
    printed = new_code_cell(
        "print(headline_of_the_run(result))",
        outputs=[new_output("stream", name="stdout", text="1. HTTP requests: 42\n")],
        execution_count=2,
    )
    return new_notebook(cells=[new_markdown_cell("# Q1\n\nSome $x$ text."), chart, printed])


def test_the_page_has_no_code_inline_images_and_nothing_to_fetch():
    html = html_report(executed_notebook())
    assert "secret_chart_function" not in html and "headline_of_the_run" not in html
    assert "1. HTTP requests: 42" in html and "Some" in html
    assert re.findall(r"""\bsrc\s*=\s*["']?([^"'\s>]*)""", html) == [
        f"data:image/png;base64,{PNG}"
    ]
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"""(href|src)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//|@import", html, re.I)


def test_the_command_writes_report_html_beside_the_notebook(tmp_path, capsys):
    notebook = tmp_path / "q1.ipynb"
    nbformat.write(executed_notebook(), str(notebook))
    assert main(["--html", str(notebook)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.html")
    assert "secret_chart_function" not in (tmp_path / "report.html").read_text()
    elsewhere = write_html_report(notebook, tmp_path / "elsewhere")
    assert elsewhere == tmp_path / "elsewhere" / "report.html" and elsewhere.exists()


def test_the_command_still_prints_the_answers_and_refuses_bad_arguments(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "input": {"path": "access.log", "files": ["access.log"], "synthetic": False},
                "total_requests": 3,
                "rejected_lines": 0,
                "lines": 3,
                "window": {"start": "a", "end": "b", "requests": 3},
                "top_hosts": [{"rank": 1, "host": "h", "requests": 3}],
                "top_country": None,
            }
        )
    )
    assert main([str(results)]) == 0
    assert "1. HTTP requests: 3" in capsys.readouterr().out
    assert main([]) == 2
    assert main([str(results), "--html", str(results)]) == 2
    assert main(["--html", str(tmp_path / "missing.ipynb")]) == 1
    assert main([str(tmp_path / "missing.json")]) == 1
