"nbdev's docs step runs on every notebook: `nbdev-proc-nbs` (the first stage of `nbdev-docs`) executes each notebook's import and export cells alone, so a lesson cell that imports must not depend on the cells before it."
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_nbdev_proc_nbs_passes_on_every_notebook():
    exe = Path(sys.executable).with_name('nbdev-proc-nbs')
    r = subprocess.run([str(exe), '--force', '--n-workers', '1'], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, 'HF_HUB_OFFLINE': '1'}, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert 'Found cells containing imports and other code' not in out, out[-4000:]  # imports only in import cells
    assert (ROOT/'_proc'/'02_models.backbone.ipynb').is_file()
    for f in ('_quarto.yml', 'nbdev.yml', 'sidebar.yml', 'styles.css'): assert (ROOT/'nbs'/f).is_file(), f  # nbdev-docs where quarto exists
