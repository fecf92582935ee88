"""The explorer as a user meets it: JupyterLab serves nbs/explorer.ipynb on a smoke run, headless Chromium runs it.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them) and the `lab` extra (jupyterlab, selenium);
where one is absent the test skips and says which. JupyterLab runs on 127.0.0.1 with a random token and its own
config, data, runtime and settings folders under the test's temp folder (autosave off, so the notebook on disk is
never written); the screenshot `explorer.png` is left in that temp folder.
"""
import contextlib, hashlib, json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB = "nbs/explorer.ipynb"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000"]

def _missing() -> str | None:
    "Why the browser test cannot run here, or None."
    if not Path(CHROMIUM).exists(): return "headless Chromium not found (apt-get install chromium chromium-driver)"
    if not Path(CHROMEDRIVER).exists(): return "chromedriver not found (apt-get install chromium-driver)"
    for mod in ("selenium", "jupyterlab"):
        try: __import__(mod)
        except ImportError: return f"{mod} not installed (pip install -e '.[lab]')"

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

def _lab_env(tmp: Path, run: Path) -> dict:
    "Environment for a JupyterLab isolated in `tmp`: its own kernelspec (this Python), no autosave, no news, no LSP."
    d = {k: tmp/k for k in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for p in d.values(): p.mkdir(parents=True)
    spec = d["data"]/"kernels"/"python3"; spec.mkdir(parents=True)
    (spec/"kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                "display_name": "python3", "language": "python"}))
    (d["config"]/"jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_lsp": False}}}))
    ext = d["settings"]/"@jupyterlab"
    for plugin, value in (("docmanager-extension/plugin", {"autosave": False}),
                          ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False})):
        f = ext/f"{plugin}.jupyterlab-settings"; f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))
    return {**os.environ, "CDE_RUN": str(run), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "JUPYTER_CONFIG_DIR": str(d["config"]), "JUPYTER_DATA_DIR": str(d["data"]), "JUPYTER_RUNTIME_DIR": str(d["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(d["settings"]), "JUPYTERLAB_WORKSPACES_DIR": str(d["workspaces"]),
            "IPYTHONDIR": str(d["ipython"]), "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1"}

def _wait(what: str, fn, timeout: float, every: float = 0.5, detail=lambda: ""):
    "Poll `fn` until it returns something truthy; fail with `what` (and `detail()`) after `timeout` seconds."
    t0 = time.time()
    while time.time() - t0 < timeout:
        r = fn()
        if r: return r
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{detail()}")

# JavaScript run in the page (JupyterLab exposes its app as window.jupyterapp with --LabApp.expose_app_in_browser).
JS_NOTEBOOK_READY = """
const app = window.jupyterapp, w = app && app.shell.currentWidget;
if (!w || !w.context || !w.context.path.endsWith('explorer.ipynb') || !w.content || !w.content.widgets.length) return null;
const k = w.context.sessionContext.session && w.context.sessionContext.session.kernel;
return k ? k.status : 'no kernel';"""
JS_RUN_ALL = """
const done = arguments[arguments.length - 1], app = window.jupyterapp;
app.commands.execute('runmenu:run-all').then(r => done({ok: r}), e => done({error: String(e)}));"""
JS_ERRORS = """
const w = window.jupyterapp.shell.currentWidget, out = [];
w.content.widgets.forEach((c, i) => { if (c.model.type !== 'code') return;
  for (const o of c.model.outputs.toJSON()) if (o.output_type === 'error') out.push(`cell ${i}: ${o.ename}: ${o.evalue}`); });
return out;"""
JS_UNRUN = """
const w = window.jupyterapp.shell.currentWidget;
return w.content.widgets.map((c, i) => [i, c.model]).filter(([i, m]) => m.type === 'code' && !m.executionCount).map(([i]) => i);"""
JS_IMAGE = """
const img = document.querySelector('.jp-OutputArea-output .widget-image');
if (!img || !img.src || !(img.src.startsWith('blob:') || img.src.startsWith('data:')) || !img.complete || !img.naturalWidth) return null;
return img.src;"""
JS_BYTES = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => done(Array.from(new Uint8Array(b))), e => done(null));"""

@pytest.mark.skipif(bool(_missing()), reason=_missing() or "")
def test_explorer_runs_in_jupyterlab_headless_chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    t0 = time.time()
    nb_bytes = (ROOT/NB).read_bytes()
    had_checkpoints = (ROOT/"nbs"/".ipynb_checkpoints").exists()
    run = tmp_path/"run"
    r = subprocess.run([sys.executable, "-m", "cde.cli", "train", "--dataset", "sample", "--profile", "smoke", "--out", str(run), "--no-progress"],
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and (run/"config.json").exists(), f"smoke run failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    print(f"smoke run: {time.time() - t0:.0f} s")
    port, token, log = _free_port(), secrets.token_hex(16), tmp_path/"jupyterlab.log"
    base = f"http://127.0.0.1:{port}"
    server = driver = None
    shutdown, left = None, []
    try:
        with open(log, "wb") as f:
            server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                                       "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
                                       "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.extension_manager=readonly"]
                                      + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                                      cwd=ROOT, env=_lab_env(tmp_path/"jupyter", run), stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        tail = lambda: "--- jupyterlab log ---\n" + log.read_text(errors="replace")[-4000:]
        def answers():
            assert server.poll() is None, f"JupyterLab exited with {server.returncode}\n{tail()}"
            try: return urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).status == 200
            except OSError: return False
        _wait("JupyterLab to answer", answers, 120, detail=tail)
        print(f"jupyterlab up: {time.time() - t0:.0f} s")

        opts = webdriver.ChromeOptions(); opts.binary_location = CHROMIUM
        for a in CHROME_FLAGS + [f"--user-data-dir={tmp_path/'chromium'}"]: opts.add_argument(a)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path/"chromedriver.log")), options=opts)
        driver.set_page_load_timeout(120); driver.set_script_timeout(600)
        driver.get(f"{base}/lab/tree/{NB}?token={token}")
        shot = lambda: driver.save_screenshot(str(tmp_path/"explorer.png")) and f"screenshot: {tmp_path/'explorer.png'}\n{tail()}"
        _wait("the notebook to open with an idle kernel", lambda: driver.execute_script(JS_NOTEBOOK_READY) == "idle", 180, detail=shot)
        print(f"notebook open, kernel idle: {time.time() - t0:.0f} s")

        res = driver.execute_async_script(JS_RUN_ALL)  # resolves when every cell has run (or one failed)
        errors = driver.execute_script(JS_ERRORS)
        assert "error" not in res and not errors, f"running the notebook failed: {res} {errors}\n{shot()}"
        assert not (unrun := driver.execute_script(JS_UNRUN)), f"Run All left code cells {unrun} unrun ({res})\n{shot()}"
        print(f"all cells run: {time.time() - t0:.0f} s")
        src = _wait("the explorer widget to show a generated image", lambda: driver.execute_script(JS_IMAGE), 120, detail=shot)
        before = driver.execute_async_script(JS_BYTES, src)
        assert before and bytes(before[:8]) == b"\x89PNG\r\n\x1a\n", f"the widget image is not a PNG: {src}"

        slider = driver.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-slider .noUi-handle")
        readout = driver.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-slider .widget-readout")
        assert readout.text.strip() == "0", readout.text
        slider.send_keys(Keys.ARROW_RIGHT)  # noUiSlider's handle takes the keyboard: one step right
        _wait("the seed slider to move", lambda: readout.text.strip() == "1", 30, detail=shot)
        after_src = _wait("the explorer to draw a new image for seed 1", lambda: (s := driver.execute_script(JS_IMAGE)) != src and s, 120, detail=shot)
        after = driver.execute_async_script(JS_BYTES, after_src)
        assert after and hashlib.sha256(bytes(after)).digest() != hashlib.sha256(bytes(before)).digest(), "seed 1 drew the same image as seed 0"
        assert not driver.execute_script(JS_ERRORS)
        driver.save_screenshot(str(tmp_path/"explorer.png"))
        assert (tmp_path/"explorer.png").stat().st_size > 10_000
        print(f"slider reacted, screenshot {tmp_path/'explorer.png'}: {time.time() - t0:.0f} s")
    finally:
        if driver is not None: driver.quit()
        if server is not None:
            import psutil  # the dev extra's
            kids = psutil.Process(server.pid).children(recursive=True) if server.poll() is None else []
            try: shutdown = urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST"), timeout=10).status
            except OSError as e: shutdown = e  # asserted below, after the clean-up
            try: server.wait(30)
            except subprocess.TimeoutExpired: os.killpg(server.pid, signal.SIGKILL); server.wait(10)
            for k in kids:
                with contextlib.suppress(psutil.NoSuchProcess): k.kill()
            left = psutil.wait_procs(kids, timeout=10)[1]
        if not had_checkpoints: shutil.rmtree(ROOT/"nbs"/".ipynb_checkpoints", ignore_errors=True)
        changed = (ROOT/NB).read_bytes() != nb_bytes
        if changed: (ROOT/NB).write_bytes(nb_bytes)
    assert not changed, f"JupyterLab wrote {NB} (restored from before the test)"
    assert shutdown == 200, f"JupyterLab did not accept /api/shutdown: {shutdown}"
    assert not left, f"processes of the JupyterLab server still running: {left}"
