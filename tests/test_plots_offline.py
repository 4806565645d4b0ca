"""`dvc plots show` / `dvc plots diff` render offline: .dvc/config's plots.html_template names
dvc_plots/offline.html, which inlines vega, vega-lite and vega-embed (from npm, built by
dvc_plots/build_template.sh) instead of dvc_render's default page that loads them from a CDN.

The fast tests read the files (and fill the template in-process with dvc_render); the slow one runs
`dvc plots show` in a scratch git + DVC repository. None needs a browser or the network."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, venv_env

TEMPLATE = REPO / "dvc_plots" / "offline.html"
BUILD_SCRIPT = REPO / "dvc_plots" / "build_template.sh"
LIBS = ("vega", "vega-lite", "vega-embed")
# the global each UMD browser build assigns (what dvc_render's plot divs call: vegaEmbed(...))
UMD_GLOBALS = {"vega": ".vega=", "vega-lite": ".vegaLite=", "vega-embed": ".vegaEmbed="}
# any <script ... src=...>: the template must load nothing, from a CDN or elsewhere
SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)


def _configured_template() -> Path:
    """plots.html_template from the repo's .dvc/config, resolved as DVC does (relative to .dvc/)."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / ".dvc" / "config")
    assert cfg.has_option("plots", "html_template"), ".dvc/config has no plots.html_template"
    path = Path(cfg.get("plots", "html_template"))
    return path if path.is_absolute() else REPO / ".dvc" / path


def _inlined_versions(html: str) -> dict[str, str]:
    """{lib: version} from the `<script type="text/javascript">/* lib@x.y.z */` markers the build script writes."""
    return dict(re.findall(r'<script type="text/javascript">/\* ([a-z-]+)@(\d+\.\d+\.\d+) \*/', html))


def test_config_points_to_offline_template():
    assert _configured_template().resolve() == TEMPLATE.resolve()
    assert TEMPLATE.is_file()


def test_template_inlines_libraries_and_loads_nothing():
    html = TEMPLATE.read_text(encoding="utf8")
    # dvc_render replaces every occurrence of each placeholder: one plot-divs slot, in the body, and no
    # scripts placeholder (it would receive the CDN <script src=...> tags)
    # (booleans, not the strings: pytest would print the whole 0.8 MB page)
    assert html.count("{plot_divs}") == 1
    assert "{scripts}" not in html
    assert SCRIPT_SRC.search(html) is None
    assert '<script src="http' not in html
    assert "cdn.jsdelivr.net" not in html
    assert '<meta charset="utf-8">' in html  # the minified builds hold non-ASCII characters
    # the page after the last inline script (the minified code itself holds strings like "</body>")
    tail = html[html.rindex("</script>") :]
    assert re.search(r"</head>\s*<body>\s*\{plot_divs\}\s*</body>\s*</html>\s*$", tail) is not None
    versions = _inlined_versions(html)
    assert set(versions) == set(LIBS)
    for lib in LIBS:
        assert UMD_GLOBALS[lib] in html, f"{lib}'s browser build is not inlined"
    # vega, then vega-lite, then vega-embed (each needs the ones before), all before the plot divs that
    # call vegaEmbed as they load
    positions = [html.index(f"/* {lib}@{versions[lib]} */") for lib in LIBS]
    assert positions == sorted(positions) and positions[-1] < html.index("{plot_divs}")
    # the three minified builds are about 0.8 MB; the template should be little more than that
    assert 500_000 < TEMPLATE.stat().st_size < 2_000_000


def test_template_matches_build_script_pins_and_dvc_render_majors():
    """The committed template is what build_template.sh's pins produce, in the majors dvc_render's default page uses."""
    versions = _inlined_versions(TEMPLATE.read_text(encoding="utf8"))
    pins = dict(re.findall(r'^\s*"([a-z-]+) (\d+\.\d+\.\d+) sha512-[A-Za-z0-9+/=]+"$', BUILD_SCRIPT.read_text(), re.M))
    assert pins == versions, "dvc_plots/offline.html is stale: rerun dvc_plots/build_template.sh"
    vega = pytest.importorskip("dvc_render.vega")
    default_majors = dict(re.findall(r"npm/([a-z-]+)@(\d+)\.", vega.VegaRenderer.SCRIPTS))
    assert default_majors == {lib: v.split(".")[0] for lib, v in versions.items()}


def test_render_html_with_template_has_no_cdn_scripts(tmp_path: Path):
    """dvc_render itself (what `dvc plots show` calls) fills the template without adding its CDN scripts."""
    pytest.importorskip("dvc_render")
    from dvc_render import render_html
    from dvc_render.vega import VegaRenderer

    points = [{"step": s, "w1": w} for s, w in ((0, 2.0), (100, 1.2), (200, 0.8))]
    renderer = VegaRenderer(points, "w1 curve", x="step", y="w1")
    out = Path(render_html([renderer], tmp_path / "index.html", html_template=str(TEMPLATE)))
    html = out.read_text(encoding="utf8")
    assert SCRIPT_SRC.search(html) is None
    assert "{plot_divs}" not in html and "{refresh_tag}" not in html
    assert set(_inlined_versions(html)) == set(LIBS)
    assert "vegaEmbed('#w1_curve', spec);" in html
    assert html.index("/* vega-embed@") < html.index("vegaEmbed('#w1_curve'")


@pytest.mark.slow
def test_dvc_plots_show_in_scratch_repo(tmp_path: Path):
    """`dvc plots show` and `dvc plots diff` with this repo's template and config write self-contained pages."""
    pytest.importorskip("dvc")
    dvc = Path(sys.executable).parent / "dvc"
    if not dvc.exists():
        pytest.skip(f"no dvc executable beside {sys.executable}")
    repo = tmp_path / "repo"
    (repo / "metrics").mkdir(parents=True)
    (repo / "dvc_plots").mkdir()
    shutil.copy(TEMPLATE, repo / "dvc_plots" / "offline.html")
    run = lambda *a: subprocess.run(a, cwd=repo, check=True, capture_output=True, text=True, env=venv_env())
    run("git", "init", "-q")
    run("git", "config", "user.email", "test@example.com")
    run("git", "config", "user.name", "test")
    run(str(dvc), "init", "-q")
    cfg = configparser.ConfigParser()
    cfg.read(REPO / ".dvc" / "config")
    run(str(dvc), "config", "plots.html_template", cfg.get("plots", "html_template"))
    (repo / "metrics" / "w1.csv").write_text("step,w1\n0,2.0\n100,1.2\n200,0.8\n")
    (repo / "dvc.yaml").write_text("plots:\n  - w1 curve:\n      x: step\n      y:\n        metrics/w1.csv: w1\n")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "plots")
    (repo / "metrics" / "w1.csv").write_text("step,w1\n0,1.8\n100,1.0\n200,0.6\n")

    for args, out in ((("show",), "show"), (("diff", "HEAD"), "diff")):
        run(str(dvc), "plots", *args, "-o", out)
        html = (repo / out / "index.html").read_text(encoding="utf8")
        assert SCRIPT_SRC.search(html) is None
        assert set(_inlined_versions(html)) == set(LIBS)
        assert "vegaEmbed('#w1_curve', spec);" in html
        if out == "diff":
            assert '"rev": "HEAD"' in html and '"rev": "workspace"' in html
