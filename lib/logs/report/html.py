"""Q1's report: the answers printed from a ``results.json``, and the executed notebook as one
HTML page to open offline.

``python -m lib.logs.report out/q1/results.json`` prints the answers;
``python -m lib.logs.report --html out/q1/q1.ipynb`` writes ``report.html`` beside the executed
notebook (``--output-dir`` elsewhere): its markdown and outputs without the code, the charts
inline as data URIs, and no script, style or image fetched from the network (no MathJax, no
require.js, no CDN), so the file reads the same in a browser without a network.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

from lib.logs.q1 import headline
from lib.output import replacing

REPORT_NAME = "report.html"
# JupyterLab's page, less the scripts it would fetch: require.js and MathJax from a CDN,
# mermaid.js and the widget manager only on demand, but from a CDN too.
_OFFLINE = "offline.html.j2"
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def html_report(notebook: nbformat.NotebookNode) -> str:
    """``notebook`` (executed) as a self-contained HTML page: markdown and outputs, no code
    cells' input, images as ``data:`` URIs, nothing to fetch."""
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_OFFLINE,
        extra_loaders=[DictLoader({_OFFLINE: _OFFLINE_TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,  # images that markdown cells name, too
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def write_html_report(executed_notebook: str | Path, output_dir: str | Path) -> Path:
    """Write ``report.html`` for ``executed_notebook`` (an ``.ipynb`` papermill wrote) into
    ``output_dir``, atomically; return its path. Raises OSError or ValueError (not a
    notebook)."""
    notebook = nbformat.read(str(executed_notebook), as_version=4)
    path = Path(output_dir) / REPORT_NAME
    with replacing(path) as out:
        out.write(html_report(notebook).encode("utf-8"))
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lib.logs.report",
        description="Print the Q1 answers from results.json, or write report.html from the "
        "executed notebook.",
    )
    parser.add_argument("results_json", nargs="?", help="results.json to print the answers of")
    parser.add_argument("--html", metavar="NOTEBOOK", help="the executed q1.ipynb to convert")
    parser.add_argument(
        "--output-dir", help="where report.html goes (default: beside the notebook)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (2: wrong arguments, 1: unreadable input)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if (args.results_json is None) == (args.html is None):
        parser.print_usage(sys.stderr)
        print("give RESULTS_JSON or --html NOTEBOOK", file=sys.stderr)
        return 2
    if args.html:
        try:
            path = write_html_report(args.html, args.output_dir or Path(args.html).parent)
        except (OSError, ValueError) as exc:
            print(f"error: cannot convert {args.html}: {exc}", file=sys.stderr)
            return 1
        print(path)
        return 0
    try:
        with open(args.results_json, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.results_json}: {exc}", file=sys.stderr)
        return 1
    print(headline(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
